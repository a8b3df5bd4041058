using System.Runtime.InteropServices;
using System.Text;
using static I3D.MLNet.Video.FFmpegLibraries;

namespace I3D.MLNet.Video;

/// <summary>
/// Frames from the system's FFmpeg libraries (<see cref="FFmpegLibraries"/>), converted as the <c>ffmpeg</c> command
/// line's <c>scale</c> filter converts them: one scaler pass from the decoder's YUV to RGB at the output size (in slices
/// on every core where it resizes), with the matrix and range the stream declares (unknown or unusual matrices as BT.601,
/// as the filter does). A held frame is a reference, not a copy, and only frames that reach the output are converted.
/// </summary>
internal sealed unsafe class FFmpegFrameSource : IVideoFrameSource
{
    private nint _format, _codec, _packet, _current, _held, _scaler, _output;
    private string _path = "";
    private DisplayMatrix _display;
    private int _stream, _errors;
    private double _timeBase;
    private long _startTime;
    private bool _draining, _ended;

    // A run of decoding errors this long ends the stream (a file of garbage after a valid header).
    private const int MostErrorsInARow = 100;

    // What the scaler was made for (source size and format, output size) and the colours it was set to (matrix, range).
    private (int Width, int Height, int Format, int ScaledWidth, int ScaledHeight) _scalerSize;
    private (int ColorSpace, int ColorRange) _scalerColors;

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
        _output = av_frame_alloc();
        if (_packet == 0 || _current == 0 || _held == 0 || _output == 0) throw new OutOfMemoryException($"FFmpeg could not allocate frames for {path}");
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
        var size = (w, h, format, scaledWidth, scaledHeight);
        if (_scaler == 0 || size != _scalerSize) NewScaler(size);
        (int ColorSpace, int ColorRange) colors = (Read<int>(frame, FrameColorSpace), Read<int>(frame, FrameColorRange));
        if (colors != _scalerColors)
        {
            SetColors(colors.ColorSpace, colors.ColorRange);
            _scalerColors = colors;
        }
        // Into a buffer laid out as libavfilter's frames are (rows aligned and padded): swscale's SIMD converters write
        // whole blocks of pixels past the width, and convert a frame whose rows are not so laid out differently in its
        // last columns (the ffmpeg command line's bytes differed there, 1-255 levels, in 340-wide frames).
        int stride = (3 * ((scaledWidth + 63) & ~63) + 63) & ~63;
        EnsureBuffer((long)stride * (scaledHeight + 2));
        Write(_output, FrameData, (nint)_buffer);
        Write(_output, FrameLineSize, stride);
        Write(_output, FrameWidth, scaledWidth);
        Write(_output, FrameHeight, scaledHeight);
        Write(_output, FrameFormat, PixelFormatRgb24);
        int r = sws_scale_frame(_scaler, _output, frame);
        if (r < 0) throw new VideoDecodeException(_path, $"FFmpeg could not convert a {w}x{h} frame (pixel format {format}) to RGB: {Error(r)}");
        if (!_display.IsUpright)
        {
            _display.Apply(_buffer, stride, rgb, width, height);
            return;
        }
        int row = 3 * width;
        for (int y = 0; y < height; y++) new ReadOnlySpan<byte>(_buffer + (long)y * stride, row).CopyTo(rgb.Slice(y * row, row));
    }

    /// <summary>
    /// A scaler as the <c>scale</c> filter makes one (FFmpeg 5.1's vf_scale: these sizes and formats, bilinear, its
    /// "threads" as the filter graph's, the cores): the output is cut into slices, each scaled on its own thread from
    /// the whole input, so the bytes are those of one pass. Bilinear matters when the size changes
    /// (<see cref="VideoDecodeOptions.ShorterSide"/>); at the same size the flags do not.
    /// </summary>
    private void NewScaler((int Width, int Height, int Format, int ScaledWidth, int ScaledHeight) size)
    {
        if (_scaler != 0) sws_freeContext(_scaler);
        _scaler = sws_alloc_context();
        _scalerSize = default;
        _scalerColors = (-1, -1);
        // Slices on threads where the size changes (MPEG-4 AVIs 320x240 -> 341x256: 1.04-1.33x the ffmpeg command line
        // with one thread, 1.45-1.72x with two); a conversion at the same size is SIMD code that threads only slowed
        // (3-8% on H.264 at 340x256 and 454x256).
        bool resizes = (size.Width, size.Height) != (size.ScaledWidth, size.ScaledHeight);
        string? refused = _scaler == 0 ? "memory" : new (string Name, long Value)[]
        {
            ("srcw", size.Width), ("srch", size.Height), ("src_format", size.Format),
            ("dstw", size.ScaledWidth), ("dsth", size.ScaledHeight), ("dst_format", PixelFormatRgb24),
            ("sws_flags", SwsBilinear), ("threads", resizes ? 0 : 1), // 0: as many as cores
        }.FirstOrDefault(o => !SetOption(_scaler, o.Name, o.Value)).Name;
        if (refused is null && sws_init_context(_scaler, 0, 0) < 0) refused = "its set-up";
        if (refused is not null)
            throw new VideoDecodeException(_path, $"FFmpeg cannot convert its frames of {size.Width}x{size.Height} (pixel format {size.Format}) to RGB ({refused})");
        _scalerSize = size;
    }

    private byte* _buffer;
    private long _bufferBytes;

    /// <summary>The scaler's output buffer, at least <paramref name="bytes"/> long, as the reference-counted buffer of
    /// <see cref="_output"/> (the scaler refers to it while it converts a frame; ours to free, not FFmpeg's).</summary>
    private void EnsureBuffer(long bytes)
    {
        if (bytes <= _bufferBytes) return;
        av_frame_unref(_output);
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferBytes = 0;
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        nint reference = av_buffer_create(_buffer, (nuint)bytes, &KeepBuffer, 0, 0);
        if (reference == 0) throw new OutOfMemoryException($"FFmpeg could not wrap a frame buffer for {_path}");
        Write(_output, FrameBuffers, reference);
        _bufferBytes = bytes;
    }

    /// <summary>The buffer's free function for FFmpeg: nothing, the buffer is freed in <see cref="Dispose"/>.</summary>
    [UnmanagedCallersOnly]
    private static void KeepBuffer(nint opaque, byte* data) { }

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
        fixed (nint* f = &_output) av_frame_free(f);
        fixed (nint* c = &_codec) avcodec_free_context(c);
        if (_format != 0) fixed (nint* f = &_format) avformat_close_input(f);
        if (_scaler != 0) sws_freeContext(_scaler);
        _scaler = 0;
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _bufferBytes = 0;
    }
}
