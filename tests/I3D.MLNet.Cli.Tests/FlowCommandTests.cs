using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using OpenCvSharp;

namespace I3D.MLNet.Cli.Tests;

public class FlowCommandTests
{
    private const int Width = 64, Height = 48, Frames = 6;
    private const double Dx = 1.5;

    private static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A smooth texture sliding right by <see cref="Dx"/> pixels a frame, MJPEG AVI at 25 fps.</summary>
    private static string SlidingVideo(string dir)
    {
        string path = Path.Combine(dir, "slide.avi");
        using var writer = new VideoWriter(path, FourCC.MJPG, 25, new OpenCvSharp.Size(Width, Height));
        using var frame = new Mat(Height, Width, MatType.CV_8UC3);
        for (int t = 0; t < Frames; t++)
        {
            for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                double u = x - Dx * t;
                double v = 128 + 40 * Math.Sin(u / 3.1 + y / 5.3) + 30 * Math.Sin(y / 2.7 - u / 7.9) + 20 * Math.Cos((u + y) / 4.1);
                byte b = (byte)Math.Clamp(Math.Round(v), 0, 255);
                frame.At<Vec3b>(y, x) = new Vec3b(b, b, b);
            }
            writer.Write(frame);
        }
        return path;
    }

    private static double MeanInterior(NpyArray a, int channel, int margin = 10)
    {
        int t = a.Shape[0], h = a.Shape[1], w = a.Shape[2];
        double sum = 0;
        int n = 0;
        for (int f = 0; f < t; f++)
        for (int y = margin; y < h - margin; y++)
        for (int x = margin; x < w - margin; x++) { sum += a.Data[(((f * h) + y) * w + x) * 2 + channel]; n++; }
        return sum / n;
    }

    [Fact]
    public void FlowWritesEncodedRawAndPngOutputs()
    {
        string dir = Temp("flow");
        string video = SlidingVideo(dir);
        string encoded = Path.Combine(dir, "flow.npy"), raw = Path.Combine(dir, "raw.npy"), png = Path.Combine(dir, "png");
        I3dProcess.Ok("flow", video, "--out", encoded, "--shorter-side", "0", "--fps", "0", "--png", png);
        var flow = Npy.Read(encoded);
        Assert.Equal([Frames, Height, Width, 2], flow.Shape);
        Assert.All(flow.Data, v => Assert.InRange(v, -1f, 1f));
        Assert.Equal(Dx / 20, MeanInterior(flow, 0), 0.01);
        Assert.Equal(0, MeanInterior(flow, 1), 0.01);
        var images = Directory.GetFiles(png, "*.png").Order().ToArray();
        Assert.Equal(Frames, images.Length);
        using (var image = Cv2.ImRead(images[0]))
            Assert.Equal((Width, Height, 3), (image.Width, image.Height, image.Channels()));

        I3dProcess.Ok("flow", video, "--out", raw, "--raw", "--shorter-side", "0", "--fps", "0", "--flow-algorithm", "tvl1-opencv");
        var pixels = Npy.Read(raw);
        Assert.Equal([Frames - 1, Height, Width, 2], pixels.Shape);
        Assert.Equal(Dx, MeanInterior(pixels, 0), 0.15);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void ASecondRunReadsTheCache()
    {
        string dir = Temp("flow-cache");
        string video = SlidingVideo(dir), cache = Path.Combine(dir, "cache");
        string first = Path.Combine(dir, "a.npy"), second = Path.Combine(dir, "b.npy");
        I3dProcess.Ok("flow", video, "--out", first, "--shorter-side", "32", "--cache-dir", cache, "--flow-algorithm", "farneback");
        var entry = Assert.Single(Directory.GetFiles(cache, "*.flow"));
        var written = File.GetLastWriteTimeUtc(entry);
        // The old spellings (--size, --algorithm, TitleCase values) still work for a release, with a warning.
        var old = I3dProcess.Ok("flow", video, "--out", second, "--size", "32", "--cache-dir", cache, "--algorithm", "farneback");
        Assert.Contains("warning: --size is now --shorter-side", old.Stderr);
        Assert.Contains("warning: --algorithm is now --flow-algorithm", old.Stderr);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Assert.Single(Directory.GetFiles(cache, "*.flow"))));
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void SeveralProcessesFillingOneCacheAgree()
    {
        string dir = Temp("flow-cache-processes");
        string video = SlidingVideo(dir), cache = Path.Combine(dir, "cache");
        var outputs = Enumerable.Range(0, 3).Select(i => Path.Combine(dir, $"out{i}.npy")).ToArray();
        Parallel.ForEach(outputs, new ParallelOptions { MaxDegreeOfParallelism = 3 },
            output => I3dProcess.Ok("flow", video, "--out", output, "--shorter-side", "32", "--cache-dir", cache, "--quantize"));
        Assert.Single(Directory.GetFiles(cache, "*.flow"));
        Assert.Empty(Directory.GetFiles(cache, "*.tmp"));
        var first = File.ReadAllBytes(outputs[0]);
        Assert.All(outputs, o => Assert.Equal(first, File.ReadAllBytes(o)));
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("no-such-video.mp4", "--out", "x.npy")]
    [InlineData("VIDEO")]
    [InlineData("VIDEO", "--out", "x.npy", "--flow-algorithm", "lucas-kanade")]
    [InlineData("VIDEO", "--out", "x.npy", "--shorter-side", "-3")]
    public void ErrorsExitNonZeroWithOneLine(params string[] args)
    {
        string dir = Temp("flow-errors");
        string video = SlidingVideo(dir);
        var result = I3dProcess.Run(["flow", .. args.Select(a => a == "VIDEO" ? video : a == "x.npy" ? Path.Combine(dir, a) : a)]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.False(string.IsNullOrWhiteSpace(result.Stderr));
        Assert.DoesNotContain("   at ", result.Stderr);
        Directory.Delete(dir, recursive: true);
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    /// <summary>A saved LoadVideo -> ExtractOpticalFlow -> SampleClips pipeline loads and runs in a fresh process (i3d clips --pipeline).</summary>
    [Fact]
    public void SavedFlowPipelineRunsInAFreshProcess()
    {
        string dir = Temp("flow-pipeline");
        string video = SlidingVideo(dir), zip = Path.Combine(dir, "flow-pipeline.zip"), clipPath = Path.Combine(dir, "clip.npy");
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable([new PathRow { Path = video }]);
        var sampling = new ClipSamplerOptions { Frames = 4, CropSize = 32 };
        var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = null } })
            .Append(ml.Transforms.ExtractOpticalFlow("Frames", "Rgb", new FlowOptions { Quantize = true }))
            .Append(ml.Transforms.SampleClips("Clip", "Frames", sampling))
            .Fit(data);
        ml.Model.Save(model, data.Schema, zip);
        var transformed = model.Transform(data);
        using var cursor = transformed.GetRowCursor([transformed.Schema["Clip"]]);
        var getter = cursor.GetGetter<VBuffer<float>>(transformed.Schema["Clip"]);
        Assert.True(cursor.MoveNext());
        var clip = default(VBuffer<float>);
        getter(ref clip);
        var expected = ClipLayout.ToChannelsLast(clip.DenseValues().ToArray(), 1, 2, 4, 32, 32);

        I3dProcess.Ok("clips", video, "--pipeline", zip, "--out", clipPath);
        var actual = Npy.Read(clipPath);
        Assert.Equal([1, 4, 32, 32, 2], actual.Shape);
        Assert.Equal(expected, actual.Data);
        Directory.Delete(dir, recursive: true);
    }
}
