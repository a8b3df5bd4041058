using System.Globalization;
using System.Text.RegularExpressions;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;

namespace I3D.MLNet.Tests.Video;

public class VideoDecoderTests
{
    /// <summary>The table of ../shared/data/README.md: file -> (fps, frames as ffprobe -count_frames decodes them).</summary>
    public static Dictionary<string, (double Fps, int Frames)> SharedTable()
    {
        var table = new Dictionary<string, (double, int)>();
        foreach (var line in File.ReadLines(SharedData.Require("data/README.md")))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray();
            if (cells.Length < 10 || !Regex.IsMatch(cells[1], @"\.(mp4|avi|gif)$")) continue;
            table[cells[1]] = (double.Parse(cells[8], CultureInfo.InvariantCulture), int.Parse(cells[9], CultureInfo.InvariantCulture));
        }
        return table;
    }

    [SkippableTheory]
    [InlineData(VideoDecoderBackend.FFmpeg)]
    [InlineData(VideoDecoderBackend.OpenCv)]
    public void EverySharedVideoDecodesAllItsFramesAtTheNativeRate(VideoDecoderBackend backend)
    {
        DecoderBackendTests.Require(backend);
        var table = SharedTable();
        Assert.True(table.Count >= 9, $"parsed {table.Count} rows from the shared README table");
        foreach (var (name, (_, frames)) in table)
        {
            var info = VideoDecoder.Probe(Path.Combine(SharedData.Videos, name), backend);
            Assert.True(frames == info.Frames, $"{name}: ffprobe -count_frames says {frames}, we decoded {info.Frames}");

            using var decoder = VideoDecoder.Open(Path.Combine(SharedData.Videos, name), backend);
            var decoded = new VideoFrames();
            decoder.Decode(new VideoDecodeOptions { FrameRate = null, ShorterSide = null }, decoded);
            Assert.Equal(frames, decoded.FrameCount);
            Assert.Equal((info.Height, info.Width), (decoded.Height, decoded.Width));
        }
    }

    [SkippableTheory]
    [InlineData(VideoDecoderBackend.FFmpeg)]
    [InlineData(VideoDecoderBackend.OpenCv)]
    public void At25FpsTheFrameCountIsTheDurationTimes25(VideoDecoderBackend backend)
    {
        DecoderBackendTests.Require(backend);
        foreach (var (name, (fps, frames)) in SharedTable())
        {
            using var decoder = VideoDecoder.Open(Path.Combine(SharedData.Videos, name), backend);
            var decoded = new VideoFrames();
            decoder.Decode(new VideoDecodeOptions(), decoded);
            double nativeFps = name.StartsWith("v_Basketball") ? 30000.0 / 1001 : fps;
            int expected = (int)Math.Round(frames / nativeFps * 25, MidpointRounding.AwayFromZero);
            Assert.True(Math.Abs(decoded.FrameCount - expected) <= 1, $"{name}: {decoded.FrameCount} frames at 25 fps, expected round(duration x 25) = {expected} +- 1");
            Assert.Equal(256, Math.Min(decoded.Height, decoded.Width));
            Assert.Equal(25, decoded.FramesPerSecond);
        }
    }

    [Fact]
    public void ResamplingRepeatsAndDropsFramesByTimestamp()
    {
        // 10 frames at 10 fps -> 25 fps: 1 s -> 25 frames; each source frame owns the slots from round(i * 2.5).
        string dir = TestVideos.TempDir("resample");
        string path = TestVideos.Write(Path.Combine(dir, "ten.avi"), 10, 64, 48, fps: 10);
        using var decoder = VideoDecoder.Open(path);
        var frames = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { ShorterSide = null }, frames);
        Assert.Equal(25, frames.FrameCount);
        // Slot n shows source frame max{i : round_half_up(i * 2.5) <= n}; the blue channel encodes the source index.
        int[] expectedSource = Enumerable.Range(0, 25).Select(n => Enumerable.Range(0, 10).Last(i => VideoDecoder.RoundHalfAwayFromZero(i * 2.5) <= n)).ToArray();
        for (int n = 0; n < 25; n++)
        {
            int blue = frames.FrameBytes(n)[2];
            int source = (int)Math.Round(blue * 9 / 255.0);
            Assert.True(expectedSource[n] == source, $"slot {n}: expected source frame {expectedSource[n]}, got {source} (blue {blue})");
        }

        // 10 fps -> 4 fps drops frames: 1 s -> 4 frames.
        decoder.Dispose();
        using var again = VideoDecoder.Open(path);
        again.Decode(new VideoDecodeOptions { FrameRate = 4, ShorterSide = null }, frames);
        Assert.Equal(4, frames.FrameCount);
    }

    [Fact]
    public void TimeWindowAndMaximumFramesLimitTheOutput()
    {
        string dir = TestVideos.TempDir("window");
        string path = TestVideos.Write(Path.Combine(dir, "fifty.avi"), 50, 64, 48, fps: 25);
        var frames = new VideoFrames();
        using (var decoder = VideoDecoder.Open(path)) decoder.Decode(new VideoDecodeOptions { ShorterSide = 32, StartSeconds = 0.4, DurationSeconds = 0.8 }, frames);
        Assert.Equal(20, frames.FrameCount);
        Assert.Equal((32, 43), (frames.Height, frames.Width));
        int blue = frames.FrameBytes(0)[2];
        Assert.Equal(10, (int)Math.Round(blue * 49 / 255.0)); // first frame is source frame 10 (0.4 s)

        using (var decoder = VideoDecoder.Open(path)) decoder.Decode(new VideoDecodeOptions { MaximumFrames = 7 }, frames);
        Assert.Equal(7, frames.FrameCount);
    }

    [Fact]
    public void ChannelOrderIsRgb()
    {
        string dir = TestVideos.TempDir("rgb");
        string path = Path.Combine(dir, "red.avi");
        using (var writer = new OpenCvSharp.VideoWriter(path, OpenCvSharp.FourCC.MJPG, 25, new OpenCvSharp.Size(32, 32)))
        using (var red = new OpenCvSharp.Mat(32, 32, OpenCvSharp.MatType.CV_8UC3, new OpenCvSharp.Scalar(0, 0, 255))) // BGR red
            for (int i = 0; i < 3; i++) writer.Write(red);
        using var decoder = VideoDecoder.Open(path);
        var frames = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { ShorterSide = null }, frames);
        var pixel = frames.FrameBytes(0).Slice(16 * 32 * 3 + 16 * 3, 3).ToArray();
        Assert.True(pixel[0] > 240 && pixel[1] < 15 && pixel[2] < 15, $"red in RGB order, got ({pixel[0]}, {pixel[1]}, {pixel[2]})");
    }

    [Theory]
    [InlineData(340, 256, 256, 340, 256)]
    [InlineData(320, 240, 256, 341, 256)]
    [InlineData(240, 320, 256, 256, 341)]
    [InlineData(454, 256, 128, 227, 128)]
    public void ShorterSideResizeKeepsTheAspectRatio(int w, int h, int side, int expectedW, int expectedH)
        => Assert.Equal((expectedW, expectedH), VideoDecoder.OutputSize(w, h, side));
}
