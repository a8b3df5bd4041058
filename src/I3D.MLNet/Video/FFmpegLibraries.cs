using System.Runtime.InteropServices;
using System.Text;

namespace I3D.MLNet.Video;

/// <summary>
/// The system's FFmpeg 5.1 libraries (Debian 12's <c>libavformat59 libavcodec59 libavutil57 libswscale6</c>), called
/// directly. OpenCvSharp's bundled FFmpeg is built without its assembly kernels (profile of an H.264 decode:
/// <c>h264_v_loop_filter_luma_8_c</c>, <c>put_h264_qpel8_h_lowpass_8</c>, <c>yuv2rgb_c_24_bgr</c>, ...), so it decodes
/// H.264 at about 0.6x the <c>ffmpeg</c> command line; the system's build has them.
/// </summary>
/// <remarks>
/// Only the ABI of those major versions is bound: the few struct fields read below are offsets measured with
/// <c>offsetof</c> against Debian 12's headers (7:5.1.x). Any other major version, FFmpeg 5.0 (the same majors, older
/// minors), or a library that is missing, leaves <see cref="Problem"/> set and decoding goes through OpenCV as before.
/// </remarks>
internal static unsafe class FFmpegLibraries
{
    public const int AvFormatMajor = 59, AvCodecMajor = 59, AvUtilMajor = 57, SwScaleMajor = 6;

    // FFmpeg 5.1's minor versions (5.0 has the same majors with lower minors, and structs whose layout was not measured):
    // a library older than these is not used.
    public const int AvFormatMinor = 27, AvCodecMinor = 37, AvUtilMinor = 28, SwScaleMinor = 7;

    // Offsets (bytes) in FFmpeg 5.1's structs, from offsetof on Debian 12's headers.
    public const int FormatContextStreamCount = 44, FormatContextStreams = 48, FormatContextDuration = 72;
    public const int StreamTimeBase = 16, StreamDiscard = 52, StreamStartTime = 24, StreamFrameCount = 40, StreamAverageFrameRate = 72, StreamRealFrameRate = 200, StreamCodecParameters = 208;
    public const int CodecParametersCodecId = 4, CodecParametersWidth = 56, CodecParametersHeight = 60;
    public const int PacketStreamIndex = 36;
    public const int FrameData = 0, FrameLineSize = 64, FrameWidth = 104, FrameHeight = 108, FrameFormat = 116, FrameBuffers = 224, FrameColorRange = 320, FrameColorSpace = 332, FrameBestEffortTimestamp = 344;

    public const int PacketSideDataDisplayMatrix = 5; // AV_PKT_DATA_DISPLAYMATRIX
    public const int MediaTypeVideo = 0, PixelFormatRgb24 = 2, ColorRangeJpeg = 2;
    public const int SwsBilinear = 2, SwsCsBt601 = 5, DiscardAll = 48;
    public const int ErrorEof = -541478725, ErrorAgain = -11, LogQuiet = -8;
    public const int ErrorStreamNotFound = -(0xF8 | ('S' << 8) | ('T' << 16) | ('R' << 24)); // FFERRTAG(0xF8,'S','T','R')
    public const long NoTimestamp = long.MinValue;

    public static delegate* unmanaged<nint*, byte*, nint, nint*, int> avformat_open_input;
    public static delegate* unmanaged<nint, nint*, int> avformat_find_stream_info;
    public static delegate* unmanaged<nint, int, int, int, nint*, int, int> av_find_best_stream;
    public static delegate* unmanaged<nint, nint, int> av_read_frame;
    public static delegate* unmanaged<nint*, void> avformat_close_input;
    public static delegate* unmanaged<nint, int, nuint*, byte*> av_stream_get_side_data;
    public static delegate* unmanaged<nint, nint> avcodec_alloc_context3;
    public static delegate* unmanaged<nint, nint, int> avcodec_parameters_to_context;
    public static delegate* unmanaged<nint, nint, nint*, int> avcodec_open2;
    public static delegate* unmanaged<nint, nint, int> avcodec_send_packet;
    public static delegate* unmanaged<nint, nint, int> avcodec_receive_frame;
    public static delegate* unmanaged<nint*, void> avcodec_free_context;
    public static delegate* unmanaged<int, byte*> avcodec_get_name;
    public static delegate* unmanaged<nint> av_packet_alloc;
    public static delegate* unmanaged<nint*, void> av_packet_free;
    public static delegate* unmanaged<nint, void> av_packet_unref;
    public static delegate* unmanaged<nint> av_frame_alloc;
    public static delegate* unmanaged<nint*, void> av_frame_free;
    public static delegate* unmanaged<nint, void> av_frame_unref;
    public static delegate* unmanaged<nint, nint, void> av_frame_move_ref;
    public static delegate* unmanaged<nint*, byte*, byte*, int, int> av_dict_set;
    public static delegate* unmanaged<nint*, void> av_dict_free;
    public static delegate* unmanaged<int, void> av_log_set_level;
    public static delegate* unmanaged<int, byte*, nuint, int> av_strerror;
    public static delegate* unmanaged<nint> sws_alloc_context;
    public static delegate* unmanaged<nint, nint, nint, int> sws_init_context;
    public static delegate* unmanaged<nint, nint, nint, int> sws_scale_frame;
    public static delegate* unmanaged<nint, byte*, long, int, int> av_opt_set_int;
    public static delegate* unmanaged<byte*, nuint, delegate* unmanaged<nint, byte*, void>, nint, int, nint> av_buffer_create;
    public static delegate* unmanaged<nint, void> sws_freeContext;
    public static delegate* unmanaged<nint, int*, int, int*, int, int, int, int, int> sws_setColorspaceDetails;
    public static delegate* unmanaged<int, int*> sws_getCoefficients;
    public static delegate* unmanaged<nint, int**, int*, int**, int*, int*, int*, int*, int> sws_getColorspaceDetails;

    private static readonly Lazy<string?> Loaded = new(Load);

    /// <summary>Why the system's FFmpeg cannot be used (missing, another major version, older than 5.1), or null when it can.</summary>
    public static string? Problem => Loaded.Value;

    private static string? Load()
    {
        if (!OperatingSystem.IsLinux()) return "the system's FFmpeg libraries are bound on Linux only";
        var libraries = new Dictionary<string, nint>();
        foreach (var (name, major, minor) in new[] { ("avformat", AvFormatMajor, AvFormatMinor), ("avcodec", AvCodecMajor, AvCodecMinor), ("avutil", AvUtilMajor, AvUtilMinor), ("swscale", SwScaleMajor, SwScaleMinor) })
        {
            string file = $"lib{name}.so.{major}";
            if (!NativeLibrary.TryLoad(file, out var handle)) return $"{file} is not installed";
            // The major version is in the file name; the one the library reports must agree (a renamed or odd build).
            if (!NativeLibrary.TryGetExport(handle, $"{name}_version", out var versionExport)) return $"{file} has no {name}_version";
            if (VersionProblem(file, ((delegate* unmanaged<uint>)versionExport)(), major, minor) is { } problem) return problem;
            libraries[name] = handle;
        }
        try
        {
            nint f = libraries["avformat"], c = libraries["avcodec"], u = libraries["avutil"], s = libraries["swscale"];
            avformat_open_input = (delegate* unmanaged<nint*, byte*, nint, nint*, int>)NativeLibrary.GetExport(f, nameof(avformat_open_input));
            avformat_find_stream_info = (delegate* unmanaged<nint, nint*, int>)NativeLibrary.GetExport(f, nameof(avformat_find_stream_info));
            av_find_best_stream = (delegate* unmanaged<nint, int, int, int, nint*, int, int>)NativeLibrary.GetExport(f, nameof(av_find_best_stream));
            av_read_frame = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(f, nameof(av_read_frame));
            avformat_close_input = (delegate* unmanaged<nint*, void>)NativeLibrary.GetExport(f, nameof(avformat_close_input));
            av_stream_get_side_data = (delegate* unmanaged<nint, int, nuint*, byte*>)NativeLibrary.GetExport(f, nameof(av_stream_get_side_data));
            avcodec_alloc_context3 = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(c, nameof(avcodec_alloc_context3));
            avcodec_parameters_to_context = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(c, nameof(avcodec_parameters_to_context));
            avcodec_open2 = (delegate* unmanaged<nint, nint, nint*, int>)NativeLibrary.GetExport(c, nameof(avcodec_open2));
            avcodec_send_packet = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(c, nameof(avcodec_send_packet));
            avcodec_receive_frame = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(c, nameof(avcodec_receive_frame));
            avcodec_free_context = (delegate* unmanaged<nint*, void>)NativeLibrary.GetExport(c, nameof(avcodec_free_context));
            avcodec_get_name = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(c, nameof(avcodec_get_name));
            av_packet_alloc = (delegate* unmanaged<nint>)NativeLibrary.GetExport(c, nameof(av_packet_alloc));
            av_packet_free = (delegate* unmanaged<nint*, void>)NativeLibrary.GetExport(c, nameof(av_packet_free));
            av_packet_unref = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(c, nameof(av_packet_unref));
            av_frame_alloc = (delegate* unmanaged<nint>)NativeLibrary.GetExport(u, nameof(av_frame_alloc));
            av_frame_free = (delegate* unmanaged<nint*, void>)NativeLibrary.GetExport(u, nameof(av_frame_free));
            av_frame_unref = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(u, nameof(av_frame_unref));
            av_frame_move_ref = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(u, nameof(av_frame_move_ref));
            av_dict_set = (delegate* unmanaged<nint*, byte*, byte*, int, int>)NativeLibrary.GetExport(u, nameof(av_dict_set));
            av_dict_free = (delegate* unmanaged<nint*, void>)NativeLibrary.GetExport(u, nameof(av_dict_free));
            av_log_set_level = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(u, nameof(av_log_set_level));
            av_strerror = (delegate* unmanaged<int, byte*, nuint, int>)NativeLibrary.GetExport(u, nameof(av_strerror));
            sws_alloc_context = (delegate* unmanaged<nint>)NativeLibrary.GetExport(s, nameof(sws_alloc_context));
            sws_init_context = (delegate* unmanaged<nint, nint, nint, int>)NativeLibrary.GetExport(s, nameof(sws_init_context));
            sws_scale_frame = (delegate* unmanaged<nint, nint, nint, int>)NativeLibrary.GetExport(s, nameof(sws_scale_frame));
            av_opt_set_int = (delegate* unmanaged<nint, byte*, long, int, int>)NativeLibrary.GetExport(u, nameof(av_opt_set_int));
            av_buffer_create = (delegate* unmanaged<byte*, nuint, delegate* unmanaged<nint, byte*, void>, nint, int, nint>)NativeLibrary.GetExport(u, nameof(av_buffer_create));
            sws_freeContext = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(s, nameof(sws_freeContext));
            sws_setColorspaceDetails = (delegate* unmanaged<nint, int*, int, int*, int, int, int, int, int>)NativeLibrary.GetExport(s, nameof(sws_setColorspaceDetails));
            sws_getCoefficients = (delegate* unmanaged<int, int*>)NativeLibrary.GetExport(s, nameof(sws_getCoefficients));
            sws_getColorspaceDetails = (delegate* unmanaged<nint, int**, int*, int**, int*, int*, int*, int*, int>)NativeLibrary.GetExport(s, nameof(sws_getColorspaceDetails));
        }
        catch (EntryPointNotFoundException e)
        {
            return $"the system's FFmpeg lacks a function: {e.Message}";
        }
        // Errors are ours to report, once, naming the file (OpenCV's copy is quieted the same way, NativeDependencies).
        av_log_set_level(LogQuiet);
        return null;
    }

    /// <summary>Why a library reporting <paramref name="version"/> (FFmpeg's <c>AV_VERSION_INT</c>: major, minor, micro
    /// in bytes 2, 1, 0) cannot stand for FFmpeg 5.1's <paramref name="major"/>.<paramref name="minor"/>, or null when it can.</summary>
    internal static string? VersionProblem(string file, uint version, int major, int minor)
    {
        uint actualMajor = version >> 16, actualMinor = (version >> 8) & 0xFF;
        if (actualMajor != major) return $"{file} reports version {actualMajor}.{actualMinor}, not {major}";
        return actualMinor < minor ? $"{file} is version {major}.{actualMinor}, older than FFmpeg 5.1's {major}.{minor}" : null;
    }

    /// <summary>FFmpeg's message for an error code.</summary>
    public static string Error(int code)
    {
        byte* buffer = stackalloc byte[256];
        return av_strerror(code, buffer, 256) == 0 ? Marshal.PtrToStringUTF8((nint)buffer) ?? $"error {code}" : $"error {code}";
    }

    /// <summary>Sets a key in an AVDictionary (created on first use).</summary>
    public static void Set(ref nint dictionary, string key, string value)
    {
        byte[] k = Encoding.UTF8.GetBytes(key + "\0"), v = Encoding.UTF8.GetBytes(value + "\0");
        fixed (nint* d = &dictionary)
        fixed (byte* kp = k, vp = v)
            av_dict_set(d, kp, vp, 0);
    }

    /// <summary>Sets an integer AVOption (of a scaler before <c>sws_init_context</c>); false when FFmpeg refuses it.</summary>
    public static bool SetOption(nint obj, string name, long value)
    {
        byte[] n = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* np = n) return av_opt_set_int(obj, np, value, 0) >= 0;
    }

    public static T Read<T>(nint structure, int offset) where T : unmanaged => *(T*)(structure + offset);

    public static void Write<T>(nint structure, int offset, T value) where T : unmanaged => *(T*)(structure + offset) = value;
}
