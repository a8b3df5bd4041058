using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using OpenCvSharp;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests.Video;

/// <summary>
/// The stream's colour matrix honoured: a BT.709-tagged H.264 video (tag in the MP4 <c>colr</c> box, or only in the
/// SPS's VUI) decodes as ffmpeg converts it. With the system's FFmpeg, byte for byte (the same swscale set up as
/// ffmpeg's <c>scale</c> filter sets it up); with OpenCV's, to within the rounding of a second conversion, against
/// ffmpeg's frames in rgb24 with nearest chroma and no dither (how OpenCV's FFmpeg converts). ffmpeg makes the videos
/// and the reference frames in the test.
/// </summary>
public sealed class ColorMatrixTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-colour-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    // A real video's first 2 s at 320x180 (natural colours; ffmpeg's testsrc2 pattern is mostly colours outside BT.601's
    // gamut, which OpenCV's conversion clips before any correction can act).
    private string[] Source { get; set; } = [];

    private string Make(string name, params string[] encoding)
    {
        string ffmpeg = SharedData.RequireTool("ffmpeg");
        string path = Path.Combine(dir, name);
        SharedData.Run(ffmpeg, ["-v", "error", "-y", .. Source, .. encoding, path]);
        return path;
    }

    /// <summary>Mean |ours - ffmpeg| in levels over every frame and channel, with and without the correction (OpenCV's
    /// conversion as it is).</summary>
    private (double Ours, double Uncorrected) Compare(string video, VideoDecoderBackend backend)
    {
        using var raw = new MemoryStream();
        string[] conversion = backend == VideoDecoderBackend.OpenCv ? ["-vf", "scale=flags=neighbor:sws_dither=none,format=rgb24"] : [];
        SharedData.Run(SharedData.RequireTool("ffmpeg"), ["-v", "error", "-i", video, .. conversion, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdoutSink: raw);
        byte[] reference = raw.ToArray();
        var frames = new VideoFrames();
        using (var decoder = VideoDecoder.Open(video, backend)) decoder.Decode(new VideoDecodeOptions { FrameRate = null, ShorterSide = null }, frames);
        Assert.Equal((180, 320), (frames.Height, frames.Width));
        Assert.Equal(reference.Length, frames.FrameCount * 180 * 320 * 3);
        // Uncorrected: OpenCV's own conversion (BT.601 limited), BGR.
        long ours = 0, uncorrected = 0;
        int i = 0;
        using var capture = new VideoCapture(video, VideoCaptureAPIs.FFMPEG);
        using var bgr = new Mat();
        var bytes = frames.Bytes;
        while (capture.Read(bgr) && !bgr.Empty())
        {
            bgr.GetArray(out Vec3b[] pixels);
            foreach (var p in pixels)
            {
                for (int c = 0; c < 3; c++)
                {
                    uncorrected += Math.Abs(p[2 - c] - reference[i + c]);
                    ours += Math.Abs(bytes[i + c] - reference[i + c]);
                }
                i += 3;
            }
        }
        Assert.Equal(reference.Length, i);
        return ((double)ours / i, (double)uncorrected / i);
    }

    [SkippableTheory]
    [InlineData(VideoDecoderBackend.FFmpeg)]
    [InlineData(VideoDecoderBackend.OpenCv)]
    public void ABt709TaggedVideoMatchesFfmpegAsCloselyAsAnUntaggedOne(VideoDecoderBackend backend)
    {
        DecoderBackendTests.Require(backend);
        Source = ["-t", "2", "-i", SharedData.Video("abseiling_k400.mp4")];
        string[] bt709 = ["-vf", "scale=320:180,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p", "-c:v", "libx264"];
        string tagged = Make("bt709.mp4", [.. bt709, "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]);
        string spsOnly = Make("bt709-sps.mp4", [.. bt709, "-x264-params", "colormatrix=bt709:colorprim=bt709:transfer=bt709"]);
        string untagged = Make("untagged.mp4", "-vf", "scale=320:180,format=yuv420p", "-c:v", "libx264");

        Assert.Equal(new VideoColorTags(1, false), VideoColorTags.Read(tagged));
        Assert.Equal(new VideoColorTags(1, false), VideoColorTags.Read(spsOnly)); // from the SPS (High profile), no colr box
        Assert.Null(VideoColorTags.Read(untagged));

        var plain = Compare(untagged, backend);
        var colr = Compare(tagged, backend);
        var sps = Compare(spsOnly, backend);
        log.WriteLine($"mean |ours - ffmpeg| in levels: untagged {plain.Ours:0.000}; BT.709 (colr) {colr.Ours:0.000}, was {colr.Uncorrected:0.000} with OpenCV's conversion; BT.709 (SPS only) {sps.Ours:0.000}, was {sps.Uncorrected:0.000}");
        // ffmpeg's testsrc2: saturated colours, most outside BT.601's gamut (clipped before any correction can act).
        Source = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2"];
        var pattern = Compare(Make("testsrc2-bt709.mp4", [.. bt709, "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]), backend);
        log.WriteLine($"testsrc2, BT.709: {pattern.Ours:0.000} levels, was {pattern.Uncorrected:0.000}");
        if (backend == VideoDecoderBackend.FFmpeg)
        {
            // The system's FFmpeg converts as ffmpeg does: every byte, tagged or not, natural colours or saturated.
            Assert.Equal(0, plain.Ours);
            Assert.Equal(0, colr.Ours);
            Assert.Equal(0, sps.Ours);
            Assert.Equal(0, pattern.Ours);
            Assert.True(colr.Uncorrected > 1, $"OpenCV's uncorrected conversion is {colr.Uncorrected} levels from ffmpeg's: the video does not test the matrix");
            return;
        }
        Assert.True(pattern.Ours < pattern.Uncorrected, $"testsrc2: {pattern.Ours} levels, was {pattern.Uncorrected}");
        Assert.Equal(plain.Ours, plain.Uncorrected); // no tag, no correction
        Assert.True(colr.Uncorrected > 1.2 * colr.Ours, "the correction did not help");
        // What is left is rounding twice (OpenCV's BT.601 bytes, then the map): at most about half a level on average.
        // The untagged video matches exactly (one conversion, the same as ffmpeg's).
        Assert.True(colr.Ours < 0.8, $"BT.709: {colr.Ours} levels, untagged {plain.Ours}");
        Assert.True(sps.Ours < 0.8, $"BT.709 (SPS): {sps.Ours} levels, untagged {plain.Ours}");
    }

    [Fact]
    public void TheCorrectionMapsBt601OntoTheDeclaredMatrix()
    {
        Assert.Null(new VideoColorTags(5, false).Correction());
        Assert.Null(new VideoColorTags(2, false).Correction());
        var m = new VideoColorTags(1, false).Correction()!;
        // A YCbCr sample converted both ways by the formulas of BT.601 and BT.709 (limited range): the map takes one to the other.
        static double[] Rgb(double kr, double kb, double y, double cb, double cr)
        {
            double kg = 1 - kr - kb, ys = (y - 16) * 255 / 219, u = (cb - 128) * 255 / 224, v = (cr - 128) * 255 / 224;
            return [ys + 2 * (1 - kr) * v, ys - 2 * (1 - kb) * kb / kg * u - 2 * (1 - kr) * kr / kg * v, ys + 2 * (1 - kb) * u];
        }
        foreach (var (y, cb, cr) in new[] { (100.0, 90.0, 150.0), (180.0, 128.0, 128.0), (60.0, 160.0, 110.0) })
        {
            var from = Rgb(0.299, 0.114, y, cb, cr);
            var to = Rgb(0.2126, 0.0722, y, cb, cr);
            for (int r = 0; r < 3; r++)
                Assert.Equal(to[r], m[r * 4] * from[0] + m[r * 4 + 1] * from[1] + m[r * 4 + 2] * from[2] + m[r * 4 + 3], 6);
        }
        // Grey stays grey.
        for (int r = 0; r < 3; r++) Assert.Equal(1.0, m[r * 4] + m[r * 4 + 1] + m[r * 4 + 2], 9);
    }
}
