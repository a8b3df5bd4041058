using System.Runtime.InteropServices;
using System.Text;
using static I3D.MLNet.Video.FFmpegLibraries;

namespace I3D.MLNet.Video;

/// <summary>
/// Frames from the system's FFmpeg libraries (<see cref="FFmpegLibraries"/>), converted as the <c>ffmpeg</c> command
/// line's <c>scale</c> filter converts them: one <c>sws_scale</c> pass from the decoder's YUV to RGB at the output size,
/// with the matrix and range the stream declares (unknown or unusual matrices as BT.601, as the filter does). A held
/// frame is a reference, not a copy, and only frames that reach the output are converted.
/// </summary>
internal sealed unsafe class FFmpegFrameSource : IVideoFrameSource
{
    private nint _format, _codec, _packet, _current, _held, _scaler;
    private string _path = "";
    private DisplayMatrix _display;
    private int _stream, _errors;
    private double _timeBase;
    private long _startTime;
    private bool _draining, _ended;

    // A run of decoding errors this long ends the stream (a file of garbage after a valid header).
    private const int MostErrorsInARow = 100;

    // The scaler's set-up for the last frame written: (context, its sizes and format, matrix, range). The sizes are part of
    // it because sws_getCachedContext may hand back a new context at the old one's address when they change.
    private (nint Scaler, long Sizes, int Format, int ColorSpace, int ColorRange) _scalerSetUp;

    public double NativeFramesPerSecond { get; private set; }
    public int Width { get; private set; }
    public int Height { get; private set; }
    public string Codec { get; private set; } = "unknown";
    public double DeclaredFrames { get; private set; }

    private FFmpegFrameSource() { }

    /// <summary>Opens <paramref name="path"/> (already checked to exist and not be empty) by its FFmpeg name
    /// <paramref name="url"/> (<see cref="VideoDecoder.FileUrl"/>), or throws <see cref="VideoDecodeException"/> naming <paramref name="path"/>.</summary>
    public static FFmpegFrameSource Open(string path, string url, string container)
    {
        if (Problem is { } problem) throw new NativeDependencyException($"The system's FFmpeg libraries cannot be used: {problem}. Install them with: {NativeDependencies.InstallHint}");
        var source = new FFmpegFrameSource();
        try
        {
            source.Initialize(path, url, container);
            return source;
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    private void Initialize(string path, string url, string container)
    {
        _path = path;
        byte[] file = Encoding.UTF8.GetBytes(url + "\0");
        nint format = 0;
        int r;
        fixed (byte* f = file) r = avformat_open_input(&format, f, 0, null);
        if (r < 0) throw new VideoDecodeException(path, VideoDecoder.CannotOpen(container));
        _format = format;
        if ((r = avformat_find_stream_info(_format, null)) < 0)
            throw new VideoDecodeException(path, $"{VideoDecoder.CannotOpen(container)}: {Error(r)}");
        nint decoder = 0;
        _stream = av_find_best_stream(_format, MediaTypeVideo, -1, -1, &decoder, 0);
        if (_stream == ErrorStreamNotFound) throw new VideoDecodeException(path, VideoDecoder.NoFrameSize);
        if (_stream < 0 || decoder == 0) throw new VideoDecodeException(path, $"FFmpeg has no decoder for this {container} file's video codec (an unsupported codec)");

        // Every other stream (audio, subtitles) is skipped by the demuxer, as the ffmpeg command line skips unused ones.
        int streams = Read<int>(_format, FormatContextStreamCount);
        nint* all = (nint*)Read<nint>(_format, FormatContextStreams);
        for (int i = 0; i < streams; i++)
            if (i != _stream) *(int*)(all[i] + StreamDiscard) = DiscardAll;
        nint stream = all[_stream], parameters = Read<nint>(stream, StreamCodecParameters);
        int codedWidth = Read<int>(parameters, CodecParametersWidth), codedHeight = Read<int>(parameters, CodecParametersHeight);
        if (codedWidth <= 0 || codedHeight <= 0) throw new VideoDecodeException(path, VideoDecoder.NoFrameSize);
        // Upright as displayed (a phone video's rotation), as the ffmpeg command line and OpenCV's backend turn it.
        nuint sideSize = 0;
        int* matrix = (int*)av_stream_get_side_data(stream, PacketSideDataDisplayMatrix, &sideSize);
        _display = matrix != null && sideSize >= 9 * sizeof(int) ? DisplayMatrix.Of(new ReadOnlySpan<int>(matrix, 9)) : DisplayMatrix.Upright;
        (Width, Height) = _display.Displayed(codedWidth, codedHeight);
        Codec = Marshal.PtrToStringUTF8((nint)avcodec_get_name(Read<int>(parameters, CodecParametersCodecId))) ?? "unknown";

        _timeBase = Rate(stream, StreamTimeBase) is var timeBase and > 0 ? timeBase : double.NaN;
        _startTime = Read<long>(stream, StreamStartTime) is var start && start != NoTimestamp ? start : 0;
        NativeFramesPerSecond = Rate(stream, StreamAverageFrameRate) is var average and > 0 ? average : Rate(stream, StreamRealFrameRate);
        long declared = Read<long>(stream, StreamFrameCount), duration = Read<long>(_format, FormatContextDuration);
        DeclaredFrames = declared > 0 ? declared : duration > 0 && NativeFramesPerSecond > 0 ? duration / 1e6 * NativeFramesPerSecond : 0;

        _codec = avcodec_alloc_context3(decoder);
        if (_codec == 0 || avcodec_parameters_to_context(_codec, parameters) < 0)
            throw new VideoDecodeException(path, "FFmpeg could not set up the video decoder");
        // Decoder threads as the ffmpeg command line has them ("auto": the cores + 1 frame threads).
        nint options = 0;
        Set(ref options, "threads", "auto");
        r = avcodec_open2(_codec, decoder, &options);
        av_dict_free(&options);
        if (r < 0) throw new VideoDecodeException(path, $"FFmpeg could not open the {Codec} decoder: {Error(r)}");
        _packet = av_packet_alloc();
        _current = av_frame_alloc();
        _held = av_frame_alloc();
        if (_packet == 0 || _current == 0 || _held == 0) throw new OutOfMemoryException($"FFmpeg could not allocate frames for {path}");
    }

    /// <summary>An AVRational field as a number (0 when it is not positive).</summary>
    private static double Rate(nint structure, int offset)
    {
        int num = Read<int>(structure, offset), den = Read<int>(structure, offset + 4);
        return num > 0 && den > 0 ? (double)num / den : 0;
    }

    public bool Next(bool pixels, out double timestamp)
    {
        timestamp = double.NaN;
        while (!_ended)
        {
            int r = avcodec_receive_frame(_codec, _current);
            if (r == 0)
            {
                _errors = 0;
                long pts = Read<long>(_current, FrameBestEffortTimestamp);
                if (pts != NoTimestamp) timestamp = (pts - _startTime) * _timeBase;
                return true;
            }
            // The end: the decoder says so, or it is flushed and has nothing more, or too many damaged frames in a row.
            if (r == ErrorEof || _draining || (r != ErrorAgain && ++_errors > MostErrorsInARow))
            {
                _ended = true;
                break;
            }
            // EAGAIN: the decoder wants input. Another error is a damaged frame: skipped, as the ffmpeg command line does.
            if (r != ErrorAgain) continue;
            if (av_read_frame(_format, _packet) < 0)
            {
                // End of file, or a read error (a truncated file): flush the frames the decoder still holds.
                avcodec_send_packet(_codec, 0);
                _draining = true;
                continue;
            }
            if (Read<int>(_packet, PacketStreamIndex) == _stream) avcodec_send_packet(_codec, _packet); // a damaged packet is skipped
            av_packet_unref(_packet);
        }
        return false;
    }

    public void Hold()
    {
        av_frame_unref(_held);
        av_frame_move_ref(_held, _current);
    }

    public void WriteRgb(bool held, Span<byte> rgb, int width, int height)
    {
        nint frame = held ? _held : _current;
        int w = Read<int>(frame, FrameWidth), h = Read<int>(frame, FrameHeight), format = Read<int>(frame, FrameFormat);
        if (rgb.Length < 3L * width * height) throw new ArgumentException($"{_path}: the target is smaller than a frame", nameof(rgb));
        // The size to scale to: the frame's coded orientation, turned upright after the scale.
        var (scaledWidth, scaledHeight) = _display.Displayed(width, height);
        // Bilinear when the size changes (VideoDecodeOptions.ShorterSide); at the same size the flags do not matter.
        _scaler = sws_getCachedContext(_scaler, w, h, format, scaledWidth, scaledHeight, PixelFormatRgb24, SwsBilinear, 0, 0, null);
        if (_scaler == 0) throw new VideoDecodeException(_path, $"FFmpeg cannot convert its frames of {w}x{h} (pixel format {format}) to RGB");
        (nint Scaler, long Sizes, int Format, int ColorSpace, int ColorRange) setUp =
            (_scaler, ((long)w << 48) | ((long)h << 32) | ((long)scaledWidth << 16) | (long)scaledHeight, format, Read<int>(frame, FrameColorSpace), Read<int>(frame, FrameColorRange));
        if (setUp != _scalerSetUp) SetColors(setUp.ColorSpace, setUp.ColorRange);
        _scalerSetUp = setUp;
        // Into a buffer laid out as libavfilter's frames are (rows aligned and padded): swscale's SIMD converters write
        // whole blocks of pixels past the width, and convert a frame whose rows are not so laid out differently in its
        // last columns (the ffmpeg command line's bytes differed there, 1-255 levels, in 340-wide frames).
        int stride = (3 * ((scaledWidth + 63) & ~63) + 63) & ~63;
        EnsureBuffer((long)stride * (scaledHeight + 2));
        byte** destination = stackalloc byte*[4];
        int* strides = stackalloc int[4];
        destination[0] = _buffer;
        strides[0] = stride;
        sws_scale(_scaler, (byte**)(frame + FrameData), (int*)(frame + FrameLineSize), 0, h, destination, strides);
        if (!_display.IsUpright)
        {
            _display.Apply(_buffer, stride, rgb, width, height);
            return;
        }
        int row = 3 * width;
        for (int y = 0; y < height; y++) new ReadOnlySpan<byte>(_buffer + (long)y * stride, row).CopyTo(rgb.Slice(y * row, row));
    }

    private byte* _buffer;
    private long _bufferBytes;

    private void EnsureBuffer(long bytes)
    {
        if (bytes <= _bufferBytes) return;
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        _bufferBytes = bytes;
    }

    /// <summary>The matrix and input range as libavfilter's <c>scale</c> (FFmpeg 5.1, <c>in_color_matrix=auto</c>) sets
    /// them: the frame's matrix, BT.601 where it is unspecified or unusual; the frame's range where it declares one.</summary>
    private void SetColors(int colorSpace, int colorRange)
    {
        int* inverse = null, table = null;
        int sourceFull = 0, destinationFull = 0, brightness = 0, contrast = 1 << 16, saturation = 1 << 16;
        sws_getColorspaceDetails(_scaler, &inverse, &sourceFull, &table, &destinationFull, &brightness, &contrast, &saturation);
        inverse = sws_getCoefficients(colorSpace is < 1 or > 10 or 8 ? SwsCsBt601 : colorSpace);
        if (colorRange != 0) sourceFull = colorRange == ColorRangeJpeg ? 1 : 0;
        sws_setColorspaceDetails(_scaler, inverse, sourceFull, inverse, destinationFull, brightness, contrast, saturation);
    }

    public void Dispose()
    {
        fixed (nint* p = &_packet) av_packet_free(p);
        fixed (nint* f = &_current) av_frame_free(f);
        fixed (nint* f = &_held) av_frame_free(f);
        fixed (nint* c = &_codec) avcodec_free_context(c);
        if (_format != 0) fixed (nint* f = &_format) avformat_close_input(f);
        if (_scaler != 0) sws_freeContext(_scaler);
        _scaler = 0;
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferBytes = 0;
    }
}
