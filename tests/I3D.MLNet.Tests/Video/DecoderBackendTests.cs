using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests.Video;

/// <summary>
/// The two FFmpegs behind <see cref="VideoDecoder"/> against the <c>ffmpeg</c> command line on every shared video: the
/// system's libraries give its bytes exactly (same frames picked by the fps filter, same swscale conversion and bilinear
/// resize); OpenCV's bundled copy (the fallback) the same frames within a few levels.
/// </summary>
public sealed class DecoderBackendTests(ITestOutputHelper log)
{
    /// <summary>Skips the calling test when <paramref name="backend"/> cannot run here, saying why.</summary>
    internal static void Require(VideoDecoderBackend backend)
        => Skip.If(backend == VideoDecoderBackend.FFmpeg && FFmpegLibraries.Problem is not null,
            $"needs the system's FFmpeg 5.1 libraries ({FFmpegLibraries.Problem}; bash scripts/install-deps.sh installs them)");

    public static TheoryData<string, int?, bool> Cases()
    {
        var cases = new TheoryData<string, int?, bool>();
        foreach (var video in new[] { "abseiling_k400.mp4", "mmaction2_demo.mp4", "mmaction2_tests_rawvideo_part_0.mp4", "mmaction2_tests_test.mp4", "mmaction2_tests_test.avi", "paddlevideo_example.avi", "v_Basketball_g01_c01.avi", "v_CricketShot_g04_c01_rgb.gif" })
        {
            cases.Add(video, 256, true); // the paper's size and rate: the same size for most, 320x240 -> 341x256 for the AVIs
            cases.Add(video, 128, true); // a downscale (112-pixel clips)
        }
        cases.Add("mmaction2_demo.mp4", null, false); // every frame at its own size
        cases.Add("v_Basketball_g01_c01.avi", null, false);
        return cases;
    }

    /// <summary>ffmpeg's frames for the same request: the fps filter (its frames, no padding to the output's constant
    /// rate), then one scale to rgb24, bilinear.</summary>
    private static byte[] Ffmpeg(string video, VideoDecodeOptions options, int width, int height)
    {
        string filters = (options.FrameRate is { } fps ? $"fps={fps}," : "") + $"scale={width}:{height}:flags=bilinear";
        using var raw = new MemoryStream();
        SharedData.Run(SharedData.RequireTool("ffmpeg"), ["-v", "error", "-i", video, "-fps_mode", "passthrough", "-vf", filters, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdoutSink: raw);
        return raw.ToArray();
    }

    /// <summary>Mean |a - b| in levels over every byte (the two the same length).</summary>
    private static double MeanLevels(byte[] a, ReadOnlySpan<byte> b)
    {
        Assert.Equal(a.Length, b.Length);
        long sum = 0;
        for (int i = 0; i < a.Length; i++) sum += Math.Abs(a[i] - b[i]);
        return (double)sum / a.Length;
    }

    private static (VideoFrames Ours, byte[] Reference) Decode(string name, int? side, bool at25, VideoDecoderBackend backend)
    {
        Require(backend);
        string video = SharedData.Video(name);
        var options = new VideoDecodeOptions { ShorterSide = side, FrameRate = at25 ? 25 : null };
        var frames = new VideoFrames();
        using (var decoder = VideoDecoder.Open(video, backend))
        {
            Assert.Equal(backend, decoder.Backend);
            decoder.Decode(options, frames);
        }
        return (frames, Ffmpeg(video, options, frames.Width, frames.Height));
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void TheSystemsFfmpegGivesTheCommandLinesBytes(string name, int? side, bool at25)
    {
        var (ours, reference) = Decode(name, side, at25, VideoDecoderBackend.FFmpeg);
        int frameBytes = 3 * ours.Width * ours.Height;
        Assert.True(reference.Length == ours.Bytes.Length, $"{name}: ffmpeg gave {reference.Length / (double)frameBytes} frames of {ours.Width}x{ours.Height}, we gave {ours.FrameCount}");
        int differing = 0;
        for (int i = 0; i < reference.Length; i++) if (reference[i] != ours.Bytes[i]) differing++;
        Assert.True(differing == 0, $"{name}: {differing} of {reference.Length} bytes differ from ffmpeg's");
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void OpenCvsFfmpegGivesTheSameFramesWithinAFewLevels(string name, int? side, bool at25)
    {
        var (ours, reference) = Decode(name, side, at25, VideoDecoderBackend.OpenCv);
        Assert.Equal(reference.Length, ours.Bytes.Length);
        double mean = MeanLevels(reference, ours.Bytes);
        log.WriteLine($"{name} at {ours.Width}x{ours.Height}: mean |OpenCV - ffmpeg| {mean:0.000} levels");
        // Measured 0.55-0.62 at the same size (C-only vs SIMD rounding of the YUV conversion), 1.3-1.7 with the upscale
        // of 320x240 (OpenCV's resize of BGR vs swscale's of YUV), 1.6-3.2 when halving. A wrong frame is tens of levels.
        Assert.True(mean < 4, $"{name}: mean |OpenCV - ffmpeg| = {mean:0.000} levels");
    }

    /// <summary>A resize (the scaler in slices on every core) of a video whose matrix or range is not the default: the
    /// colours set up on the scaler reach each slice's own scaler (the BT.709 video 8.5 levels from ffmpeg's when they do not).</summary>
    [SkippableTheory]
    [InlineData("bt709.mp4", "320x180", "yuv420p", "-colorspace bt709 -color_primaries bt709 -color_trc bt709")]
    [InlineData("full-range.mp4", "320x240", "yuvj420p", "")]
    public void AResizedVideoWithItsOwnMatrixOrRangeGetsTheCommandLinesBytes(string name, string size, string pixelFormat, string tags)
    {
        Require(VideoDecoderBackend.FFmpeg);
        string dir = TestVideos.TempDir("colour-resize");
        string video = Path.Combine(dir, name);
        SharedData.Run(SharedData.RequireTool("ffmpeg"), ["-v", "error", "-y", "-f", "lavfi", "-i", $"testsrc2=size={size}:rate=25:duration=2",
            "-c:v", "libx264", "-pix_fmt", pixelFormat, .. tags.Split(' ', StringSplitOptions.RemoveEmptyEntries), video]);
        var options = new VideoDecodeOptions { ShorterSide = 128, FrameRate = 25 };
        var frames = new VideoFrames();
        using (var decoder = VideoDecoder.Open(video, VideoDecoderBackend.FFmpeg)) decoder.Decode(options, frames);
        Assert.NotEqual(size, $"{frames.Width}x{frames.Height}");
        Assert.Equal(0, MeanLevels(Ffmpeg(video, options, frames.Width, frames.Height), frames.Bytes));
    }

    [SkippableTheory]
    [InlineData(90)]
    [InlineData(180)]
    [InlineData(270)]
    public void ARotatedVideoIsTurnedUprightAsFfmpegTurnsIt(int rotation)
    {
        // A phone video's rotation (the MP4 track's display matrix): ffmpeg's command line turns the frames upright
        // (transpose / flips before its scale), and so does OpenCV's backend.
        Require(VideoDecoderBackend.FFmpeg);
        string ffmpeg = SharedData.RequireTool("ffmpeg");
        string dir = TestVideos.TempDir("rotated");
        string plain = Path.Combine(dir, "plain.mp4"), rotated = Path.Combine(dir, $"rotated{rotation}.mp4");
        SharedData.Run(ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", plain]);
        SharedData.Run(ffmpeg, ["-v", "error", "-y", "-i", plain, "-c", "copy", "-metadata:s:v:0", $"rotate={rotation}", rotated]);
        var options = new VideoDecodeOptions { ShorterSide = null };
        var (ours, reference) = (new VideoFrames(), Ffmpeg(rotated, options, rotation == 180 ? 320 : 240, rotation == 180 ? 240 : 320));
        using (var decoder = VideoDecoder.Open(rotated, VideoDecoderBackend.FFmpeg))
        {
            Assert.Equal(rotation == 180 ? (320, 240) : (240, 320), (decoder.Width, decoder.Height));
            decoder.Decode(options, ours);
        }
        Assert.Equal(reference, ours.Bytes.ToArray()); // upright at its own size: ffmpeg's bytes
        var openCv = new VideoFrames();
        using (var decoder = VideoDecoder.Open(rotated, VideoDecoderBackend.OpenCv)) decoder.Decode(options, openCv);
        Assert.Equal((ours.Width, ours.Height, ours.FrameCount), (openCv.Width, openCv.Height, openCv.FrameCount));
        double upright = MeanLevels(reference, openCv.Bytes);
        Assert.True(upright < 2, $"OpenCV's upright frames are {upright:0.00} levels from ffmpeg's"); // the other way round: tens of levels

        // Resized, the turn comes after our scale and before ffmpeg's: the same frames within a few levels.
        var small = new VideoDecodeOptions { ShorterSide = 128 };
        using (var decoder = VideoDecoder.Open(rotated, VideoDecoderBackend.FFmpeg)) decoder.Decode(small, ours);
        var smallReference = Ffmpeg(rotated, small, ours.Width, ours.Height);
        Assert.Equal(smallReference.Length, ours.Bytes.Length);
        double resized = MeanLevels(smallReference, ours.Bytes);
        log.WriteLine($"rotation {rotation}, shorter side 128: mean |ours - ffmpeg| {resized:0.000} levels");
        Assert.True(resized < 4, $"resized: {resized:0.00} levels from ffmpeg's");
    }

    [Fact]
    public void TheDisplayMatrixGivesFfmpegsTurn()
    {
        // av_display_rotation_set's matrices (16.16 fixed point): a counter-clockwise angle in degrees.
        static int[] Rotation(double degrees)
        {
            double r = -degrees * Math.PI / 180, c = Math.Cos(r), s = Math.Sin(r);
            return [(int)Math.Round(c * 65536), (int)Math.Round(-s * 65536), 0, (int)Math.Round(s * 65536), (int)Math.Round(c * 65536), 0, 0, 0, 1 << 30];
        }
        Assert.Equal(new DisplayMatrix(true, false, true), DisplayMatrix.Of(Rotation(90)));   // transpose=clock
        Assert.Equal(new DisplayMatrix(false, true, true), DisplayMatrix.Of(Rotation(180)));  // hflip + vflip
        Assert.Equal(new DisplayMatrix(true, true, false), DisplayMatrix.Of(Rotation(-90)));  // transpose=cclock
        Assert.Equal(new DisplayMatrix(true, true, false), DisplayMatrix.Of(Rotation(270)));
        Assert.True(DisplayMatrix.Of(Rotation(0)).IsUpright);
        Assert.True(DisplayMatrix.Of(Rotation(45)).IsUpright); // not a quarter turn: left as decoded
        Assert.True(DisplayMatrix.Of([]).IsUpright);
        Assert.Equal((240, 320), DisplayMatrix.Of(Rotation(90)).Displayed(320, 240));
    }

    [Fact]
    public void TheEnvironmentChoosesTheBackendForAuto()
    {
        Assert.Contains("expected auto, ffmpeg or opencv", Assert.Throws<ArgumentException>(() => VideoDecoder.ResolveBackend(VideoDecoderBackend.Auto, "gstreamer")).Message);
        Assert.Equal(VideoDecoderBackend.OpenCv, VideoDecoder.ResolveBackend(VideoDecoderBackend.Auto, " OpenCV "));
        Assert.Equal(VideoDecoderBackend.FFmpeg, VideoDecoder.ResolveBackend(VideoDecoderBackend.Auto, "ffmpeg"));
        Assert.Equal(VideoDecoderBackend.FFmpeg, VideoDecoder.ResolveBackend(VideoDecoderBackend.FFmpeg, "opencv")); // an explicit choice wins
        var auto = FFmpegLibraries.Problem is null ? VideoDecoderBackend.FFmpeg : VideoDecoderBackend.OpenCv;
        Assert.Equal(auto, VideoDecoder.ResolveBackend(VideoDecoderBackend.Auto, null));
        Assert.Equal(auto, VideoDecoder.ResolveBackend(VideoDecoderBackend.Auto, "auto"));
    }

    /// <summary>Only FFmpeg 5.1's libraries are bound (struct offsets measured against its headers): 5.0 has the same
    /// majors and older minors, 6.x other majors.</summary>
    [Fact]
    public void OnlyFfmpeg51sLibrariesAreUsed()
    {
        static uint Version(int major, int minor) => (uint)(major << 16 | minor << 8 | 100);
        Assert.Null(FFmpegLibraries.VersionProblem("libavcodec.so.59", Version(59, 37), 59, 37)); // Debian 12
        Assert.Null(FFmpegLibraries.VersionProblem("libavcodec.so.59", Version(59, 40), 59, 37));
        Assert.Contains("older than FFmpeg 5.1's 59.37", FFmpegLibraries.VersionProblem("libavcodec.so.59", Version(59, 18), 59, 37)); // FFmpeg 5.0
        Assert.Contains("reports version 60.31, not 59", FFmpegLibraries.VersionProblem("libavcodec.so.59", Version(60, 31), 59, 37));
        if (FFmpegLibraries.Problem is null) Assert.Null(FFmpegLibraries.VersionProblem("libavcodec", (uint)avcodec_version(), FFmpegLibraries.AvCodecMajor, FFmpegLibraries.AvCodecMinor));
    }

    [System.Runtime.InteropServices.DllImport("libavcodec.so.59")]
    private static extern int avcodec_version();
}
