using OpenCvSharp;

namespace I3D.MLNet.Video;

/// <summary>
/// Frames from OpenCV's FFmpeg backend (OpenCvSharp's bundled FFmpeg): the fallback where the system's FFmpeg libraries
/// cannot be used (<see cref="FFmpegLibraries.Problem"/>). OpenCV converts every frame to BGR with the BT.601
/// limited-range matrix whatever the stream declares; MP4 files that declare another are corrected
/// (<see cref="VideoColorTags"/>).
/// </summary>
internal sealed class OpenCvFrameSource : IVideoFrameSource
{
    private const int CapPropNThreads = 70; // cv::CAP_PROP_N_THREADS

    private readonly VideoCapture _capture;
    private Mat _current = new(), _held = new();
    private readonly Mat _resized = new(), _corrected = new(), _unclipped = new();

    // RGB as converted (BT.601 limited) -> RGB in the declared matrix and range; null when no correction is needed.
    private readonly Mat? _colorCorrection;

    public double NativeFramesPerSecond { get; }
    public int Width { get; }
    public int Height { get; }
    public string Codec { get; }
    public double DeclaredFrames => _capture.Get(VideoCaptureProperties.FrameCount);

    private OpenCvFrameSource(string path, VideoCapture capture, string container)
    {
        _capture = capture;
        NativeFramesPerSecond = capture.Fps;
        Width = capture.FrameWidth;
        Height = capture.FrameHeight;
        Codec = CodecName((int)capture.Get(VideoCaptureProperties.FourCC), container);
        var tags = container.StartsWith("mov,mp4", StringComparison.Ordinal) ? VideoColorTags.Read(path) : null;
        if (tags?.Correction() is { } correction)
        {
            _colorCorrection = new Mat(3, 4, MatType.CV_32FC1);
            for (int i = 0; i < 12; i++) _colorCorrection.Set(i / 4, i % 4, (float)correction[i]);
        }
    }

    /// <summary>Opens <paramref name="path"/> (already checked to exist and not be empty) by its FFmpeg name
    /// <paramref name="url"/> (<see cref="VideoDecoder.FileUrl"/>), or throws <see cref="VideoDecodeException"/> naming <paramref name="path"/>.</summary>
    public static OpenCvFrameSource Open(string path, string url, string container)
    {
        NativeDependencies.EnsureOpenCv();
        // FFmpeg decoder threads: like the ffmpeg command line, more frame threads than cores (measured on 2 cores,
        // H.264 340x256: 697 frames/s with OpenCV's default, 1,010 with 4 threads).
        var capture = new VideoCapture(url, VideoCaptureAPIs.FFMPEG, [CapPropNThreads, Environment.ProcessorCount + 2]);
        try
        {
            if (!capture.IsOpened()) throw new VideoDecodeException(path, VideoDecoder.CannotOpen(container));
            if (capture.FrameWidth <= 0 || capture.FrameHeight <= 0) throw new VideoDecodeException(path, VideoDecoder.NoFrameSize);
            return new OpenCvFrameSource(path, capture, container);
        }
        catch
        {
            capture.Dispose();
            throw;
        }
    }

    public bool Next(bool pixels, out double timestamp)
    {
        bool read = pixels ? _capture.Read(_current) && !_current.Empty() : _capture.Grab();
        timestamp = read ? _capture.Get(VideoCaptureProperties.PosMsec) / 1000.0 : double.NaN;
        return read;
    }

    public void Hold() => (_held, _current) = (_current, _held);

    public unsafe void WriteRgb(bool held, Span<byte> rgb, int width, int height)
    {
        Mat bgr = held ? _held : _current;
        if (bgr.Width != width || bgr.Height != height)
        {
            Cv2.Resize(bgr, _resized, new Size(width, height), 0, 0, InterpolationFlags.Linear);
            bgr = _resized;
        }
        fixed (byte* p = rgb)
        {
            using var target = Mat.FromPixelData(height, width, MatType.CV_8UC3, (IntPtr)p);
            if (bgr.Channels() == 3) Cv2.CvtColor(bgr, target, ColorConversionCodes.BGR2RGB);
            else if (bgr.Channels() == 1) Cv2.CvtColor(bgr, target, ColorConversionCodes.GRAY2RGB);
            else Cv2.CvtColor(bgr, target, ColorConversionCodes.BGRA2RGB);
            if (_colorCorrection is { } m && bgr.Channels() >= 3) CorrectColors(target, m);
        }
    }

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

    public void Dispose()
    {
        _capture.Dispose();
        _current.Dispose();
        _held.Dispose();
        _resized.Dispose();
        _colorCorrection?.Dispose();
        _corrected.Dispose();
        _unclipped.Dispose();
    }
}
