namespace I3D.MLNet.Video;

/// <summary>Facts about a video file, as <c>i3d info</c> prints them.</summary>
public sealed record VideoInfo(string Path, string Container, string Codec, int Width, int Height, double FramesPerSecond, int Frames, double DurationSeconds)
{
    /// <summary>The FFmpeg that decoded it (<see cref="VideoDecoderBackend.FFmpeg"/>: the system's; or OpenCV's).</summary>
    public VideoDecoderBackend Decoder { get; init; }
}

/// <summary>Which FFmpeg decodes: the system's libraries (FFmpeg 5.1, with its assembly kernels) or OpenCV's bundled copy.</summary>
public enum VideoDecoderBackend
{
    /// <summary>The system's FFmpeg libraries where they can be used (<c>libavcodec.so.59</c>, Debian 12's), else
    /// OpenCV. The environment variable <c>I3D_VIDEO_DECODER</c> (<c>auto</c>, <c>ffmpeg</c>, <c>opencv</c>) chooses for
    /// the whole process.</summary>
    Auto,

    /// <summary>The system's FFmpeg libraries; an error that says what to install when they cannot be used.</summary>
    FFmpeg,

    /// <summary>OpenCV's FFmpeg backend (OpenCvSharp's bundled FFmpeg, built without assembly kernels: about half the
    /// speed of the system's on H.264).</summary>
    OpenCv,
}

/// <summary>
/// Decodes a video file into RGB frames, resampled to a frame rate by timestamps and resized so the shorter side has a
/// given length, with the system's FFmpeg libraries or OpenCV's (<see cref="VideoDecoderBackend"/>). One instance per
/// file; not thread-safe.
/// </summary>
public sealed class VideoDecoder : IDisposable
{
    private readonly IVideoFrameSource _source;

    /// <summary>The video file.</summary>
    public string Path { get; }

    /// <summary>The native frame rate the container declares.</summary>
    public double NativeFramesPerSecond => _source.NativeFramesPerSecond;

    /// <summary>Frame width the container declares, in pixels.</summary>
    public int Width => _source.Width;

    /// <summary>Frame height the container declares, in pixels.</summary>
    public int Height => _source.Height;

    /// <summary>The codec as ffprobe names it (h264, mpeg4, gif, ...).</summary>
    public string Codec => _source.Codec;

    /// <summary>The container as ffprobe names it (mov,mp4,m4a,3gp,3g2,mj2 / avi / gif / matroska,webm), from the file's magic bytes.</summary>
    public string Container { get; }

    /// <summary>The FFmpeg that decodes this file: <see cref="VideoDecoderBackend.FFmpeg"/> or <see cref="VideoDecoderBackend.OpenCv"/>.</summary>
    public VideoDecoderBackend Backend { get; }

    private VideoDecoder(string path, IVideoFrameSource source, string container, VideoDecoderBackend backend)
    {
        Path = path;
        _source = source;
        Container = container;
        Backend = backend;
    }

    internal static string CannotOpen(string container) => container == "unknown"
        ? "not a video file that FFmpeg recognises"
        : $"FFmpeg could not open this {container} file (truncated, corrupt or an unsupported codec)";

    internal const string NoFrameSize = "the video stream has no frame size (no decodable video stream)";

    /// <summary>The backend <see cref="VideoDecoderBackend.Auto"/> stands for on this machine: the environment variable
    /// <c>I3D_VIDEO_DECODER</c> if set, else the system's FFmpeg where it can be used, else OpenCV.</summary>
    public static VideoDecoderBackend ResolveBackend(VideoDecoderBackend backend = VideoDecoderBackend.Auto)
        => ResolveBackend(backend, Environment.GetEnvironmentVariable("I3D_VIDEO_DECODER"));

    internal static VideoDecoderBackend ResolveBackend(VideoDecoderBackend backend, string? environment)
    {
        if (backend != VideoDecoderBackend.Auto) return backend;
        switch (environment?.Trim().ToLowerInvariant())
        {
            case null or "" or "auto": break;
            case "ffmpeg": return VideoDecoderBackend.FFmpeg;
            case "opencv": return VideoDecoderBackend.OpenCv;
            case var other: throw new ArgumentException($"I3D_VIDEO_DECODER={other}: expected auto, ffmpeg or opencv");
        }
        return FFmpegLibraries.Problem is null ? VideoDecoderBackend.FFmpeg : VideoDecoderBackend.OpenCv;
    }

    /// <summary>Opens a file, or throws <see cref="VideoDecodeException"/> that names it and says what is wrong.</summary>
    public static VideoDecoder Open(string path) => Open(path, VideoDecoderBackend.Auto);

    /// <summary>Opens a file with the given FFmpeg (<see cref="VideoDecoderBackend"/>), or throws
    /// <see cref="VideoDecodeException"/> that names it and says what is wrong.</summary>
    public static VideoDecoder Open(string path, VideoDecoderBackend backend)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new VideoDecodeException("(empty path)", "the path is empty");
        if (Directory.Exists(path)) throw new VideoDecodeException(path, "is a directory, not a video file");
        var file = new FileInfo(path);
        if (!file.Exists) throw new VideoDecodeException(path, "no such file");
        if (file.Length == 0) throw new VideoDecodeException(path, "the file is empty (0 bytes)");
        string container = SniffContainer(path);
        backend = ResolveBackend(backend);
        string url = FileUrl(file.FullName);
        IVideoFrameSource source = backend == VideoDecoderBackend.FFmpeg ? FFmpegFrameSource.Open(path, url, container) : OpenCvFrameSource.Open(path, url, container);
        return new VideoDecoder(path, source, container, backend);
    }

    /// <summary>The name FFmpeg (either copy) opens a file by: its full path behind <c>file:</c>. A bare relative name is a
    /// URL to FFmpeg, so a file called <c>http:clip.avi</c> or <c>subfile,,start,0,,:clip.avi</c> would be taken for a
    /// protocol and not opened, or opened as something else.</summary>
    internal static string FileUrl(string fullPath) => "file:" + fullPath;

    /// <summary>Reads the whole file at its native rate and size to count the frames that actually decode.</summary>
    public static VideoInfo Probe(string path) => Probe(path, VideoDecoderBackend.Auto);

    /// <summary>As <see cref="Probe(string)"/>, with the given FFmpeg.</summary>
    public static VideoInfo Probe(string path, VideoDecoderBackend backend)
    {
        using var decoder = Open(path, backend);
        int frames = 0;
        double lastTimestamp = 0;
        while (decoder._source.Next(pixels: false, out double timestamp))
        {
            if (!double.IsNaN(timestamp)) lastTimestamp = timestamp;
            frames++;
        }
        if (frames == 0) throw new VideoDecodeException(path, "no frame could be decoded");
        double fps = decoder.NativeFramesPerSecond;
        double duration = fps > 0 ? Math.Max(lastTimestamp + 1 / fps, frames / fps) : lastTimestamp;
        return new VideoInfo(path, decoder.Container, decoder.Codec, decoder.Width, decoder.Height, fps, frames, Math.Round(duration, 6)) { Decoder = decoder.Backend };
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
            if (!_source.Next(pixels: true, out double timestamp)) break;
            decoded++;
            // Timestamps that are missing or do not advance: one declared frame period after the previous frame (as the
            // ffmpeg command line extrapolates a last frame that has none), 0 for the first.
            if (double.IsNaN(timestamp) || (decoded > 1 && timestamp <= previousTimestamp))
                timestamp = decoded == 1 ? 0 : previousTimestamp + (double.IsNaN(nativeFps) ? 0.04 : 1 / nativeFps);
            previousTimestamp = timestamp;

            if (options.FrameRate is not { } fps)
            {
                // Native rate: every decoded frame is an output frame.
                if (timestamp >= options.StartSeconds && timestamp < windowEnd) emitter.EmitNew(held: false);
                else if (timestamp >= windowEnd) break;
                continue;
            }

            // ffmpeg's fps filter: a frame owns the output slots from its rounded timestamp up to the next frame's.
            long slot = RoundHalfAwayFromZero(timestamp * fps);
            if (heldValid)
            {
                long from = Math.Max(heldSlot, emitter.NextSlot);
                if (slot > from) emitter.EmitSlots(from, slot);
            }
            else
            {
                emitter.NextSlot = slot;
            }
            _source.Hold();
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
            if (end > from) emitter.EmitSlots(from, end);
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
        double count = _source.DeclaredFrames;
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

        /// <summary>Emits the held frame for output slots [from, to) that fall in the window.</summary>
        public void EmitSlots(long from, long to)
        {
            bool converted = false;
            for (long slot = Math.Max(from, _firstSlot); slot < to && !Full; slot++)
            {
                NextSlot = slot + 1;
                if (!converted)
                {
                    EmitNew(held: true);
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

        /// <summary>Converts the current or held frame into a new output frame.</summary>
        public void EmitNew(bool held) => decoder._source.WriteRgb(held, frames.AppendRgbFrame(), frames.Width, frames.Height);
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

    /// <inheritdoc/>
    public void Dispose() => _source.Dispose();
}
