namespace I3D.MLNet.Video;

/// <summary>
/// One open video stream, frame by frame, for <see cref="VideoDecoder"/>: decode the next frame, keep it for later, write a
/// frame as RGB at the output size. Implemented on the system's FFmpeg libraries (<see cref="FFmpegFrameSource"/>) and on
/// OpenCV's bundled FFmpeg (<see cref="OpenCvFrameSource"/>). Not thread-safe.
/// </summary>
internal interface IVideoFrameSource : IDisposable
{
    /// <summary>The frame rate the container declares, as it declares it (0 when it does not).</summary>
    double NativeFramesPerSecond { get; }

    /// <summary>Frame size the container declares, in pixels.</summary>
    int Width { get; }

    /// <summary>Frame size the container declares, in pixels.</summary>
    int Height { get; }

    /// <summary>The codec as ffprobe names it (h264, mpeg4, gif, ...).</summary>
    string Codec { get; }

    /// <summary>Frames the container declares (0 when it does not say).</summary>
    double DeclaredFrames { get; }

    /// <summary>
    /// Decodes the next frame into the current one. <paramref name="timestamp"/>: seconds from the stream's start, NaN when
    /// the frame has none. False at the end of the stream. With <paramref name="pixels"/> false the frame need only be
    /// counted (<see cref="VideoDecoder.Probe(string)"/>), not written.
    /// </summary>
    bool Next(bool pixels, out double timestamp);

    /// <summary>The current frame becomes the held one (the previously held one is released).</summary>
    void Hold();

    /// <summary>Writes the current (or the held) frame into <paramref name="rgb"/>: <paramref name="height"/> rows of
    /// <paramref name="width"/> RGB pixels, resized (bilinear) and converted with the stream's colour matrix and range.</summary>
    void WriteRgb(bool held, Span<byte> rgb, int width, int height);
}
