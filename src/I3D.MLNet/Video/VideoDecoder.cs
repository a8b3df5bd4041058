using OpenCvSharp;

namespace I3D.MLNet.Video;

/// <summary>Facts about a video file, as <c>i3d info</c> prints them.</summary>
public sealed record VideoInfo(string Path, string Container, string Codec, int Width, int Height, double FramesPerSecond, int Frames, double DurationSeconds);

/// <summary>
/// Decodes a video file with OpenCV's FFmpeg backend into RGB frames, resampled to a frame rate by timestamps and
/// resized so the shorter side has a given length. One instance per file; not thread-safe.
/// </summary>
public sealed class VideoDecoder : IDisposable
{
    private const int CapPropNThreads = 70; // cv::CAP_PROP_N_THREADS

    private readonly VideoCapture _capture;
    private readonly Mat _held = new();
    private readonly Mat _next = new();
    private readonly Mat _resized = new();

    /// <summary>The video file.</summary>
    public string Path { get; }

    /// <summary>The native frame rate the container declares.</summary>
    public double NativeFramesPerSecond { get; }

    /// <summary>Frame width the container declares, in pixels.</summary>
    public int Width { get; }

    /// <summary>Frame height the container declares, in pixels.</summary>
    public int Height { get; }

    /// <summary>The codec as ffprobe names it (h264, mpeg4, gif, ...), from the FourCC.</summary>
    public string Codec { get; }

    /// <summary>The container as ffprobe names it (mov,mp4,m4a,3gp,3g2,mj2 / avi / gif / matroska,webm), from the file's magic bytes.</summary>
    public string Container { get; }

    private VideoDecoder(string path, VideoCapture capture, string container)
    {
        Path = path;
        _capture = capture;
        Container = container;
        NativeFramesPerSecond = capture.Fps;
        Width = capture.FrameWidth;
        Height = capture.FrameHeight;
        Codec = CodecName((int)capture.Get(VideoCaptureProperties.FourCC), container);
        // OpenCV converts with BT.601 limited range whatever the stream declares; ffmpeg uses the declared matrix.
        var tags = container.StartsWith("mov,mp4", StringComparison.Ordinal) ? VideoColorTags.Read(path) : null;
        if (tags?.Correction() is { } correction)
        {
            _colorCorrection = new Mat(3, 4, MatType.CV_32FC1);
            for (int i = 0; i < 12; i++) _colorCorrection.Set(i / 4, i % 4, (float)correction[i]);
        }
    }

    private readonly Mat _corrected = new(), _unclipped = new();

    /// <summary>
    /// Maps a frame converted as BT.601 onto the declared matrix (<see cref="VideoColorTags.Correction"/>), where the
    /// conversion did not clip: a pixel with a channel at 0 or 255 may have lost its true value, and correcting the
    /// clipped value measured further from ffmpeg than leaving it (ffmpeg's testsrc2 pattern, BT.709).
    /// </summary>
    private void CorrectColors(Mat rgb, Mat correction)
    {
        Cv2.Transform(rgb, _corrected, correction); // saturating, rounded
        Cv2.InRange(rgb, new Scalar(1, 1, 1), new Scalar(254, 254, 254), _unclipped);
        _corrected.CopyTo(rgb, _unclipped);
    }

    // RGB as converted (BT.601 limited) -> RGB in the declared matrix and range; null when no correction is needed.
    private readonly Mat? _colorCorrection;

    /// <summary>Opens a file, or throws <see cref="VideoDecodeException"/> that names it and says what is wrong.</summary>
    public static VideoDecoder Open(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new VideoDecodeException("(empty path)", "the path is empty");
        if (Directory.Exists(path)) throw new VideoDecodeException(path, "is a directory, not a video file");
        var file = new FileInfo(path);
        if (!file.Exists) throw new VideoDecodeException(path, "no such file");
        if (file.Length == 0) throw new VideoDecodeException(path, "the file is empty (0 bytes)");
        string container = SniffContainer(path);
        NativeDependencies.EnsureOpenCv();

        // FFmpeg decoder threads: like the ffmpeg command line, more frame threads than cores (measured on 2 cores,
        // H.264 340x256: 697 frames/s with OpenCV's default, 1,010 with 4 threads).
        var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG, [CapPropNThreads, Environment.ProcessorCount + 2]);
        try
        {
            if (!capture.IsOpened())
                throw new VideoDecodeException(path, container == "unknown"
                    ? "not a video file that FFmpeg recognises"
                    : $"FFmpeg could not open this {container} file (truncated, corrupt or an unsupported codec)");
            if (capture.FrameWidth <= 0 || capture.FrameHeight <= 0)
                throw new VideoDecodeException(path, "the video stream has no frame size (no decodable video stream)");
            return new VideoDecoder(path, capture, container);
        }
        catch
        {
            capture.Dispose();
            throw;
        }
    }

    /// <summary>Reads the whole file at its native rate and size to count the frames that actually decode.</summary>
    public static VideoInfo Probe(string path)
    {
        using var decoder = Open(path);
        int frames = 0;
        double lastTimestamp = 0;
        while (decoder._capture.Grab())
        {
            lastTimestamp = decoder._capture.Get(VideoCaptureProperties.PosMsec) / 1000.0;
            frames++;
        }
        if (frames == 0) throw new VideoDecodeException(path, "no frame could be decoded");
        double fps = decoder.NativeFramesPerSecond;
        double duration = fps > 0 ? Math.Max(lastTimestamp + 1 / fps, frames / fps) : lastTimestamp;
        return new VideoInfo(path, decoder.Container, decoder.Codec, decoder.Width, decoder.Height, fps, frames, Math.Round(duration, 6));
    }

    /// <summary>
    /// Decodes into <paramref name="frames"/> (its buffer is reused). Throws <see cref="VideoDecodeException"/> when no
    /// frame decodes.
    /// </summary>
    public void Decode(VideoDecodeOptions options, VideoFrames frames, CancellationToken cancellation = default)
    {
        options.Validate();
        (int outW, int outH) = OutputSize(Width, Height, options.ShorterSide);
        frames.Reset(FrameElementKind.Rgb24, 0, outH, outW);
        frames.Source = Path;
        double nativeFps = NativeFramesPerSecond is > 0 and < 10000 ? NativeFramesPerSecond : double.NaN;
        frames.FramesPerSecond = options.FrameRate ?? nativeFps;

        int maxFrames = options.MaximumFrames ?? int.MaxValue;
        double windowEnd = options.DurationSeconds is { } d ? options.StartSeconds + d : double.PositiveInfinity;
        frames.Reserve(ExpectedFrames(options, nativeFps, maxFrames, windowEnd, outW, outH));
        var emitter = new Emitter(this, frames, options, maxFrames, windowEnd);

        int decoded = 0;
        double previousTimestamp = double.NegativeInfinity;
        bool heldValid = false;
        long heldSlot = 0;
        double heldTimestamp = 0;
        while (!emitter.Full)
        {
            cancellation.ThrowIfCancellationRequested();
            if (!_capture.Read(_next) || _next.Empty()) break;
            decoded++;
            double timestamp = _capture.Get(VideoCaptureProperties.PosMsec) / 1000.0;
            // Timestamps that are missing or go backwards: fall back to the frame index and the declared rate.
            if (double.IsNaN(timestamp) || timestamp < previousTimestamp || (decoded > 1 && timestamp == previousTimestamp))
                timestamp = double.IsNaN(nativeFps) ? previousTimestamp + 0.04 : (decoded - 1) / nativeFps;
            previousTimestamp = timestamp;

            if (options.FrameRate is not { } fps)
            {
                // Native rate: every decoded frame is an output frame.
                if (timestamp >= options.StartSeconds && timestamp < windowEnd) emitter.EmitNew(_next, 1);
                else if (timestamp >= windowEnd) break;
                continue;
            }

            // ffmpeg's fps filter: a frame owns the output slots from its rounded timestamp up to the next frame's.
            long slot = RoundHalfAwayFromZero(timestamp * fps);
            if (heldValid)
            {
                long from = Math.Max(heldSlot, emitter.NextSlot);
                if (slot > from) emitter.EmitSlots(_held, from, slot);
            }
            else
            {
                emitter.NextSlot = slot;
            }
            _next.CopyTo(_held);
            heldValid = true;
            heldSlot = slot;
            heldTimestamp = timestamp;
        }

        if (options.FrameRate is { } rate && heldValid && !emitter.Full)
        {
            // End of stream: the last frame lasts one native frame period (ffmpeg rounds the end the same way).
            double period = double.IsNaN(nativeFps) ? 1 / rate : 1 / nativeFps;
            long end = RoundHalfAwayFromZero((heldTimestamp + period) * rate);
            long from = Math.Max(heldSlot, emitter.NextSlot);
            if (end > from) emitter.EmitSlots(_held, from, end);
        }

        if (decoded == 0) throw new VideoDecodeException(Path, "no frame could be decoded (empty, truncated or an unsupported codec)");
        if (frames.FrameCount == 0)
            throw new VideoDecodeException(Path, $"no frame falls in the time window starting at {options.StartSeconds} s ({decoded} frames decoded)");
    }

    /// <summary>
    /// About how many frames the decode will write, from the container's frame count and rate: the buffer is sized once
    /// instead of growing (and being copied) as frames come. At most 256 MB is reserved ahead, so a header that claims
    /// billions of frames costs nothing; a video longer than its header says still grows as before.
    /// </summary>
    private int ExpectedFrames(VideoDecodeOptions options, double nativeFps, int maxFrames, double windowEnd, int width, int height)
    {
        double count = _capture.Get(VideoCaptureProperties.FrameCount);
        if (!(count > 0) || double.IsNaN(nativeFps)) return 0;
        double seconds = Math.Min(count / nativeFps, windowEnd) - options.StartSeconds;
        double expected = options.FrameRate is { } rate ? Math.Ceiling(seconds * rate) + 1 : Math.Ceiling(seconds * nativeFps);
        long cap = (256L << 20) / Math.Max(1L, 3L * width * height);
        return (int)Math.Clamp(Math.Min(expected, maxFrames), 0, cap);
    }

    /// <summary>Output (width, height) so that the shorter side is <paramref name="shorterSide"/>, rounding the other.</summary>
    public static (int Width, int Height) OutputSize(int width, int height, int? shorterSide)
    {
        if (shorterSide is not { } s) return (width, height);
        return width <= height
            ? (s, Math.Max(1, (int)Math.Round((double)height * s / width, MidpointRounding.AwayFromZero)))
            : (Math.Max(1, (int)Math.Round((double)width * s / height, MidpointRounding.AwayFromZero)), s);
    }

    /// <summary>Rounds half away from zero, tolerating float error at the half (as av_rescale_q_rnd's AV_ROUND_NEAR_INF on exact rationals).</summary>
    internal static long RoundHalfAwayFromZero(double x)
    {
        double floor = Math.Floor(x);
        return x - floor >= 0.5 - 1e-7 ? (long)floor + 1 : (long)floor;
    }

    /// <summary>Writes output frames, converting each distinct source frame once (repeats copy the previous output).</summary>
    private sealed class Emitter(VideoDecoder decoder, VideoFrames frames, VideoDecodeOptions options, int maxFrames, double windowEnd)
    {
        public long NextSlot;

        // The window in output slots: [FirstSlot, EndSlot), computed once so float error cannot add or lose a frame.
        private readonly long _firstSlot = options.FrameRate is { } f ? (long)Math.Ceiling(options.StartSeconds * f - 1e-6) : 0;
        private readonly long _endSlot = options.FrameRate is { } f2 && !double.IsPositiveInfinity(windowEnd) ? (long)Math.Ceiling(windowEnd * f2 - 1e-6) : long.MaxValue;

        public bool Full => frames.FrameCount >= maxFrames || NextSlot >= _endSlot;

        /// <summary>Emits <paramref name="source"/> for output slots [from, to) that fall in the window.</summary>
        public void EmitSlots(Mat source, long from, long to)
        {
            bool converted = false;
            for (long slot = Math.Max(from, _firstSlot); slot < to && !Full; slot++)
            {
                NextSlot = slot + 1;
                if (!converted)
                {
                    EmitNew(source, 1);
                    converted = true;
                }
                else
                {
                    var previous = frames.FrameBytes(frames.FrameCount - 1);
                    previous.CopyTo(frames.AppendRgbFrame());
                }
            }
            if (!Full) NextSlot = Math.Max(NextSlot, to);
        }

        public unsafe void EmitNew(Mat source, int repeat)
        {
            Mat bgr = source;
            if (source.Width != frames.Width || source.Height != frames.Height)
            {
                Cv2.Resize(source, decoder._resized, new Size(frames.Width, frames.Height), 0, 0, InterpolationFlags.Linear);
                bgr = decoder._resized;
            }
            for (int r = 0; r < repeat; r++)
            {
                var target = frames.AppendRgbFrame();
                fixed (byte* p = target)
                {
                    using var rgb = Mat.FromPixelData(frames.Height, frames.Width, MatType.CV_8UC3, (IntPtr)p);
                    if (bgr.Channels() == 3) Cv2.CvtColor(bgr, rgb, ColorConversionCodes.BGR2RGB);
                    else if (bgr.Channels() == 1) Cv2.CvtColor(bgr, rgb, ColorConversionCodes.GRAY2RGB);
                    else Cv2.CvtColor(bgr, rgb, ColorConversionCodes.BGRA2RGB);
                    if (decoder._colorCorrection is { } m && bgr.Channels() >= 3) decoder.CorrectColors(rgb, m);
                }
            }
        }
    }

    private static string SniffContainer(string path)
    {
        Span<byte> head = stackalloc byte[12];
        int n;
        try
        {
            using var stream = File.OpenRead(path);
            n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VideoDecodeException(path, $"cannot be read: {e.Message}", e);
        }
        head = head[..n];
        if (n >= 8 && head.Slice(4, 4).SequenceEqual("ftyp"u8)) return "mov,mp4,m4a,3gp,3g2,mj2";
        if (n >= 12 && head[..4].SequenceEqual("RIFF"u8) && head.Slice(8, 4).SequenceEqual("AVI "u8)) return "avi";
        if (n >= 4 && head[..4].SequenceEqual("GIF8"u8)) return "gif";
        if (n >= 4 && head[0] == 0x1A && head[1] == 0x45 && head[2] == 0xDF && head[3] == 0xA3) return "matroska,webm";
        if (n >= 4 && head[..4].SequenceEqual("OggS"u8)) return "ogg";
        if (n >= 3 && head[..3].SequenceEqual("FLV"u8)) return "flv";
        if (n >= 1 && head[0] == 0x47) return "mpegts";
        return "unknown";
    }

    private static string CodecName(int fourcc, string container)
    {
        if (container == "gif") return "gif";
        if (fourcc == 0) return "unknown";
        string code = new string([(char)(fourcc & 0xFF), (char)((fourcc >> 8) & 0xFF), (char)((fourcc >> 16) & 0xFF), (char)((fourcc >> 24) & 0xFF)]).TrimEnd('\0', ' ');
        return code.ToLowerInvariant() switch
        {
            "avc1" or "h264" or "x264" or "avc3" => "h264",
            "hvc1" or "hev1" or "hevc" or "h265" => "hevc",
            "fmp4" or "xvid" or "divx" or "dx50" or "mp4v" => "mpeg4",
            "mjpg" => "mjpeg",
            "vp80" or "vp08" => "vp8",
            "vp90" or "vp09" => "vp9",
            "av01" => "av1",
            "gif" => "gif",
            _ => code,
        };
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _capture.Dispose();
        _held.Dispose();
        _next.Dispose();
        _resized.Dispose();
        _colorCorrection?.Dispose();
        _corrected.Dispose();
        _unclipped.Dispose();
    }
}
