using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests.Flow;

public sealed class OpticalFlowTransformerTests(ITestOutputHelper output)
{
    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    private static (MLContext Ml, IDataView Data, string Dir) Videos(int count, double dx = 2)
    {
        string dir = TestVideos.TempDir("flow-transformer");
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, count)
            .Select(i => new PathRow { Path = FlowTestData.WriteSlidingTexture(Path.Combine(dir, $"v{i}.avi"), 10 + i, 80 + 16 * i, 64 - 8 * i, dx, seed: 11 + i) })
            .ToArray();
        return (ml, ml.Data.LoadFromEnumerable(rows), dir);
    }

    private static VideoLoaderOptions Native => new() { Decode = new VideoDecodeOptions { ShorterSide = null } };

    private static List<VideoFrames> Column(IDataView view, string name)
    {
        var column = view.Schema[name];
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<VideoFrames>(column);
        var result = new List<VideoFrames>();
        while (cursor.MoveNext())
        {
            var frames = new VideoFrames();
            getter(ref frames);
            result.Add(frames);
        }
        return result;
    }

    [Fact]
    public void FlowColumnHasTheFramesOfTheRgbColumnAndIsComputedOncePerVideo() // videos of different lengths and sizes
    {
        var (ml, data, dir) = Videos(2);
        string cacheDir = Path.Combine(dir, "cache");
        var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), Native)
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb", new FlowOptions { CacheDirectory = cacheDir, Quantize = true }))
            .Fit(data);
        var transformed = model.Transform(data);
        Assert.Equal(VideoDataViewType.Flow, transformed.Schema["Flow"].Type);

        var rgb = Column(transformed, "Rgb");
        var epoch1 = Column(transformed, "Flow");
        var epoch2 = Column(transformed, "Flow");
        var cache = model.LastTransformer.Cache!;
        Assert.Equal((2, 2), (cache.Stores, cache.Hits)); // epoch 1 computed both videos, epoch 2 read both
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(FrameElementKind.Flow, epoch1[i].Kind);
            Assert.Equal((rgb[i].FrameCount, rgb[i].Height, rgb[i].Width), (epoch1[i].FrameCount, epoch1[i].Height, epoch1[i].Width));
            Assert.Equal(rgb[i].FramesPerSecond, epoch1[i].FramesPerSecond);
            Assert.True(epoch1[i].Floats.SequenceEqual(epoch2[i].Floats));
            // The texture slides 2 px right a frame: 2 / 20 = 0.1 in the interior.
            double meanX = MeanX(epoch1[i], margin: 12);
            output.WriteLine($"video {i}: {epoch1[i]}, mean x flow {meanX:0.0000} (expected 0.1)");
            Assert.Equal(0.1, meanX, 0.01);
        }
        Directory.Delete(dir, recursive: true);
    }

    private static double MeanX(VideoFrames flow, int margin)
    {
        double sum = 0;
        int n = 0;
        for (int t = 0; t < flow.FrameCount; t++)
        {
            var f = flow.FrameFloats(t);
            for (int y = margin; y < flow.Height - margin; y++)
            for (int x = margin; x < flow.Width - margin; x++) { sum += f[(y * flow.Width + x) * 2]; n++; }
        }
        return sum / n;
    }

    [Fact]
    public void SchemaChecksNameTheColumn()
    {
        var ml = new MLContext(0);
        var data = ml.Data.LoadFromEnumerable([new PathRow { Path = "x.avi" }]);
        var estimator = ml.Transforms.ExtractOpticalFlow("Flow", "Path");
        var e = Assert.ThrowsAny<Exception>(() => estimator.Fit(data));
        Assert.Contains("Path", e.Message);
        var missing = Assert.ThrowsAny<Exception>(() => ml.Transforms.ExtractOpticalFlow("Flow", "NoSuchColumn").Fit(data));
        Assert.Contains("NoSuchColumn", missing.Message);
        var flowInput = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path))
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb"))
            .Append(ml.Transforms.ExtractOpticalFlow("Flow2", "Flow"));
        Assert.Contains("Flow", Assert.ThrowsAny<Exception>(() => flowInput.Fit(data)).Message);
    }

    [Fact]
    public void SavedModelLoadsBackWithItsOptionsAndGivesTheSameFlow()
    {
        var (ml, data, dir) = Videos(1);
        var options = new FlowOptions { Algorithm = FlowAlgorithm.Farneback, Bound = 10, Quantize = true, TvL1 = new TvL1Parameters { Warps = 3 } };
        var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), Native).Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb", options)).Fit(data);
        string zip = Path.Combine(dir, "flow.zip");
        ml.Model.Save(model, data.Schema, zip);
        var loaded = new MLContext(seed: 5).Model.Load(zip, out _);
        var flowTransformer = ((IEnumerable<ITransformer>)loaded).OfType<OpticalFlowTransformer>().Single();
        Assert.Equal(options, flowTransformer.Options with { TvL1 = options.TvL1 });
        Assert.Equal(options.TvL1, flowTransformer.Options.TvL1);
        var expected = Column(model.Transform(data), "Flow").Single();
        var actual = Column(loaded.Transform(data), "Flow").Single();
        Assert.True(expected.Floats.SequenceEqual(actual.Floats));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// A zip stores what the model is, not where it ran: saved with a cache folder and a thread limit, it loads on
    /// another machine (here: the folder deleted) without creating the folder, computing without a cache.
    /// </summary>
    [Fact]
    public void ZipsLeaveTheCacheFolderAndThreadCountBehind()
    {
        var (ml, data, dir) = Videos(1);
        string cache = Path.Combine(dir, "flow-cache");
        var options = new FlowOptions { Algorithm = FlowAlgorithm.Farneback, CacheDirectory = cache, MaxDegreeOfParallelism = 1 };
        var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), Native).Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb", options)).Fit(data);
        var expected = Column(model.Transform(data), "Flow").Single();
        Assert.True(Directory.Exists(cache));
        string zip = Path.Combine(dir, "flow.zip");
        ml.Model.Save(model, data.Schema, zip);
        Directory.Delete(cache, recursive: true);
        var loaded = new MLContext(seed: 5).Model.Load(zip, out _);
        var flow = ((IEnumerable<ITransformer>)loaded).OfType<OpticalFlowTransformer>().Single();
        Assert.Null(flow.Options.CacheDirectory);
        Assert.Equal(0, flow.Options.MaxDegreeOfParallelism);
        Assert.Null(flow.Cache);
        // The same flow, up to the cache's half-float storage of the first run's values (error below 5e-4).
        var actual = Column(loaded.Transform(data), "Flow").Single().Floats;
        Assert.Equal(expected.Floats.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(expected.Floats[i] - actual[i]));
        Assert.True(worst < 1e-3, $"loaded vs cached flow: {worst}");
        Assert.False(Directory.Exists(cache));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>Each of this project's zip kinds refuses a zip of a newer format version, naming it.</summary>
    [Theory]
    [InlineData("I3DVIDLD")]
    [InlineData("I3DFLOWX")]
    [InlineData("I3DCLIPS")]
    public void ZipsOfANewerFormatVersionAreRefused(string signature)
    {
        var (ml, data, dir) = Videos(1);
        var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), Native)
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb", new FlowOptions { Algorithm = FlowAlgorithm.Farneback }))
            .Append(ml.Transforms.SampleClips("Clip", "Rgb", new I3D.MLNet.Clips.ClipSamplerOptions { Frames = 4, CropSize = 32 })).Fit(data);
        string zip = Path.Combine(dir, "pipeline.zip");
        ml.Model.Save(model, data.Schema, zip);
        new MLContext(1).Model.Load(zip, out _); // as written: loads
        Assert.Equal(1, I3D.MLNet.Testing.ZipVersions.Set(zip, signature, 0x00090001));
        var e = Assert.ThrowsAny<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        Assert.Contains("version", e.ToString(), StringComparison.OrdinalIgnoreCase);
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>RGB and flow clips sampled with the same options and seed line up: where the RGB clip shows the texture
    /// moving right the flow clip says +x, and where it was flipped (moving left) the flow says -x.</summary>
    [Fact]
    public void FlowClipsLineUpWithRgbClipsIncludingFlips()
    {
        var (ml, data, dir) = Videos(1);
        var seen = new HashSet<int>();
        for (int seed = 0; seed < 8 && seen.Count < 2; seed++)
        {
            var sampling = new ClipSamplerOptions { Mode = ClipSamplingMode.Train, Frames = 4, CropSize = 48, Seed = seed };
            var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), Native)
                .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb"))
                .Append(ml.Transforms.SampleClips("RgbClip", "Rgb", sampling))
                .Append(ml.Transforms.SampleClips("FlowClip", "Flow", sampling))
                .Fit(data);
            var transformed = model.Transform(data);
            using var cursor = transformed.GetRowCursor(transformed.Schema);
            var getRgb = cursor.GetGetter<VBuffer<float>>(transformed.Schema["RgbClip"]);
            var getFlow = cursor.GetGetter<VBuffer<float>>(transformed.Schema["FlowClip"]);
            Assert.True(cursor.MoveNext());
            VBuffer<float> rgbClip = default, flowClip = default;
            getRgb(ref rgbClip);
            getFlow(ref flowClip);
            var rgb = rgbClip.DenseValues().ToArray();
            var flow = flowClip.DenseValues().ToArray();
            Assert.Equal(2 * 4 * 48 * 48, flow.Length);
            int shift = RgbShift(rgb, 4, 48);
            double meanX = flow.Take(4 * 48 * 48).Average(); // channel 0 (x) of the C T H W clip
            output.WriteLine($"seed {seed}: RGB clip moves {shift:+0;-0} px a frame, flow clip mean x {meanX:0.000}");
            Assert.Equal(2, Math.Abs(shift));
            Assert.Equal(shift / 20.0, meanX, 0.02);
            seen.Add(Math.Sign(shift));
        }
        Assert.Equal(2, seen.Count); // both a flipped and an unflipped clip were checked
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>The horizontal shift s in -4..4 minimising the difference between frame t shifted by s and frame t+1 (channel 0).</summary>
    private static int RgbShift(float[] clip, int frames, int size)
    {
        int best = 0;
        double bestError = double.MaxValue;
        for (int s = -4; s <= 4; s++)
        {
            double error = 0;
            for (int t = 0; t + 1 < frames; t++)
            for (int y = 0; y < size; y++)
            for (int x = 8; x < size - 8; x++)
            {
                double d = clip[(t * size + y) * size + x - s] - clip[((t + 1) * size + y) * size + x];
                error += d * d;
            }
            if (error < bestError) (best, bestError) = (s, error);
        }
        return best;
    }
}
