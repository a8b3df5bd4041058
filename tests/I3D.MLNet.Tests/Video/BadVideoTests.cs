using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Microsoft.ML;

namespace I3D.MLNet.Tests.Video;

/// <summary>Bad input gives a clear error that names the file, never a native crash or a hang.</summary>
public class BadVideoTests
{
    /// <summary>Decoding fails with a <see cref="VideoDecodeException"/> naming the file, with either FFmpeg (the system's
    /// where it can be used, and OpenCV's); returns the first backend's exception.</summary>
    private static VideoDecodeException DecodeFails(string path)
    {
        VideoDecodeException? first = null;
        foreach (var backend in new[] { VideoDecoderBackend.FFmpeg, VideoDecoderBackend.OpenCv })
        {
            if (backend == VideoDecoderBackend.FFmpeg && FFmpegLibraries.Problem is not null) continue;
            var e = Assert.Throws<VideoDecodeException>(() =>
            {
                using var decoder = VideoDecoder.Open(path, backend);
                decoder.Decode(new VideoDecodeOptions(), new VideoFrames());
            });
            Assert.Contains(path, e.Message);
            first ??= e;
        }
        return first!;
    }

    [Fact]
    public void MissingFile() => Assert.Contains("no such file", DecodeFails(Path.Combine(TestVideos.TempDir("missing"), "nope.mp4")).Message);

    [Fact]
    public void Directory() => Assert.Contains("directory", DecodeFails(TestVideos.TempDir("dir")).Message);

    [Fact]
    public void ZeroByteFile()
    {
        string path = Path.Combine(TestVideos.TempDir("empty"), "empty.mp4");
        File.WriteAllBytes(path, []);
        Assert.Contains("empty", DecodeFails(path).Message);
    }

    [Fact]
    public void RandomBytes() => DecodeFails(TestVideos.RandomBytes(Path.Combine(TestVideos.TempDir("random"), "random.mp4"), 100_000));

    [SkippableFact]
    public void TruncatedMp4()
    {
        // mmaction2_demo.mp4 keeps its index (moov) at the end: cut anywhere, the file cannot be opened.
        string path = TestVideos.Truncated(SharedData.Video("mmaction2_demo.mp4"), Path.Combine(TestVideos.TempDir("trunc"), "cut.mp4"), 0.5);
        DecodeFails(path);
    }

    [SkippableTheory]
    [InlineData(VideoDecoderBackend.FFmpeg)]
    [InlineData(VideoDecoderBackend.OpenCv)]
    public void TruncatedAviDecodesTheFramesThatAreThere(VideoDecoderBackend backend)
    {
        DecoderBackendTests.Require(backend);
        string path = TestVideos.Truncated(SharedData.Video("paddlevideo_example.avi"), Path.Combine(TestVideos.TempDir("trunc"), "cut.avi"), 0.5);
        using var decoder = VideoDecoder.Open(path, backend);
        var frames = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { FrameRate = null }, frames);
        Assert.InRange(frames.FrameCount, 30, 100); // of 131: the first half, no garbage frames after the cut
    }

    [SkippableTheory]
    [InlineData(VideoDecoderBackend.FFmpeg)]
    [InlineData(VideoDecoderBackend.OpenCv)]
    public void OneFrameVideoDecodesToOneFrameAndLoopsIntoAClip(VideoDecoderBackend backend)
    {
        DecoderBackendTests.Require(backend);
        string path = TestVideos.Write(Path.Combine(TestVideos.TempDir("one"), "one.avi"), 1, 64, 48);
        using var decoder = VideoDecoder.Open(path, backend);
        var frames = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { FrameRate = null }, frames);
        Assert.Equal(1, frames.FrameCount);
    }

    [SkippableFact]
    public void UnsupportedCodec()
    {
        // An AVI whose codec tag and BITMAPINFOHEADER compression say "QQQQ": the container opens, no decoder exists.
        var bytes = File.ReadAllBytes(SharedData.Video("paddlevideo_example.avi"));
        ReplaceAll(bytes, "FMP4"u8, "QQQQ"u8);
        ReplaceAll(bytes, "fmp4"u8, "QQQQ"u8);
        ReplaceAll(bytes, "XVID"u8, "QQQQ"u8);
        ReplaceAll(bytes, "xvid"u8, "QQQQ"u8);
        ReplaceAll(bytes, "DX50"u8, "QQQQ"u8);
        ReplaceAll(bytes, "divx"u8, "QQQQ"u8);
        string path = Path.Combine(TestVideos.TempDir("codec"), "codec.avi");
        File.WriteAllBytes(path, bytes);
        DecodeFails(path);
    }

    [SkippableFact]
    public void NoDecodableFrame()
    {
        // A real AVI header followed by zeros instead of the frames.
        var bytes = File.ReadAllBytes(SharedData.Video("mmaction2_tests_test.avi"));
        int movi = IndexOf(bytes, "movi"u8);
        Assert.True(movi > 0);
        Array.Clear(bytes, movi + 4, bytes.Length - movi - 4);
        string path = Path.Combine(TestVideos.TempDir("nodata"), "nodata.avi");
        File.WriteAllBytes(path, bytes);
        DecodeFails(path);
    }

    [SkippableFact]
    public void SkipModeDropsBadRowsAndCountsThem()
    {
        string dir = TestVideos.TempDir("skip");
        string good = TestVideos.Write(Path.Combine(dir, "good.avi"), 5, 64, 48);
        string bad = TestVideos.RandomBytes(Path.Combine(dir, "bad.mp4"), 5000);
        var ml = new MLContext(1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("LoadVideo: skipping")) lock (messages) messages.Add(e.Message); };
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow(good), new PathRow(Path.Combine(dir, "missing.mp4")), new PathRow(bad), new PathRow(good) });
        var loaded = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { OnInvalidVideo = InvalidVideoHandling.Skip, Decode = new() { ShorterSide = 32 } })
            .Fit(data).Transform(data);
        var kept = ml.Data.SkipEmptyVideos(loaded, "Frames");
        var paths = ml.Data.CreateEnumerable<PathRow>(kept, reuseRowObject: false).Select(r => r.Path).ToList();
        Assert.Equal([good, good], paths);
        Assert.Equal(2, messages.Count);
        Assert.Contains(bad, string.Join("\n", messages));

        // Without Skip, the first bad row stops the pipeline with the file's name.
        var strict = ml.Transforms.LoadVideo("Frames", "Path").Fit(data).Transform(data);
        var e = Assert.ThrowsAny<Exception>(() =>
        {
            using var cursor = strict.GetRowCursor([strict.Schema["Frames"]]);
            var getter = cursor.GetGetter<VideoFrames>(strict.Schema["Frames"]);
            var frames = new VideoFrames();
            while (cursor.MoveNext()) getter(ref frames);
        });
        Assert.Contains("missing.mp4", Flatten(e));
    }

    internal static string Flatten(Exception e) => e.InnerException == null ? e.Message : e.Message + " | " + Flatten(e.InnerException);

    private static void ReplaceAll(byte[] data, ReadOnlySpan<byte> from, ReadOnlySpan<byte> to)
    {
        for (int i = 0; i + from.Length <= data.Length; i++)
            if (data.AsSpan(i, from.Length).SequenceEqual(from)) to.CopyTo(data.AsSpan(i));
    }

    private static int IndexOf(byte[] data, ReadOnlySpan<byte> what) => data.AsSpan().IndexOf(what);

    public sealed class PathRow(string path)
    {
        public PathRow() : this("") { }

        public string Path { get; set; } = path;
    }
}
