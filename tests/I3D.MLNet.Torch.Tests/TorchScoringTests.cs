using System.IO.Compression;
using I3D.MLNet.IO;
using I3D.MLNet.Onnx;
using I3D.MLNet.Testing;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests;

/// <summary><c>mlContext.Transforms.ScoreI3D</c> on pytorch-i3d weight files (scores, classes, zips, errors), and what
/// the scorers' zips hold: what the model is, not where it ran; newer format versions refused.</summary>
public sealed class TorchScoringTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-torch-scoring-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed class ClipRow
    {
        [VectorType(2, 3, 9, 32, 32)]
        public float[] RgbClip { get; set; } = [];

        [VectorType(2, 2, 9, 32, 32)]
        public float[] FlowClip { get; set; } = [];
    }

    private static IDataView Rows(MLContext ml, int count)
    {
        var random = new Random(3);
        float[] Clip(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        return ml.Data.LoadFromEnumerable(Enumerable.Range(0, count).Select(_ => new ClipRow { RgbClip = Clip(2 * 3 * 9 * 32 * 32), FlowClip = Clip(2 * 2 * 9 * 32 * 32) }).ToList());
    }

    private string Weights(string name, int classes, int channels, int seed)
    {
        manual_seed(seed);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new InceptionI3d(classes, channels), seed);
        string path = Path.Combine(dir, name);
        ModuleWeights.Save(net, path);
        return path;
    }

    [Fact]
    public void ScoresTwoStreamsAsTheSumOfTheirClipAveragedLogitsAndRoundTripsThroughAZip()
    {
        string rgb = Weights("rgb.pt", 5, 3, 1), flow = Weights("flow.pt", 5, 2, 2);
        var ml = new MLContext(1);
        var data = Rows(ml, 3);
        var rows = ml.Data.CreateEnumerable<ClipRow>(data, reuseRowObject: false).ToList();
        string[] names = ["a", "b", "c", "d", "e"];
        var model = ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = rgb, FlowWeightsPath = flow, ClassNames = names, Device = "cpu" }).Fit(data);
        var scored = model.Transform(data);
        var scores = scored.GetColumn<float[]>("Score").ToList();
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToList();
        var rgbLogits = scored.GetColumn<float[]>("RgbLogits").ToList();
        var flowLogits = scored.GetColumn<float[]>("FlowLogits").ToList();
        VBuffer<ReadOnlyMemory<char>> keys = default;
        scored.Schema["PredictedLabel"].GetKeyValues(ref keys);
        Assert.Equal(names, keys.DenseValues().Select(k => k.ToString()));

        using var rgbNet = ModuleWeights.LoadInceptionI3d(rgb);
        using var flowNet = ModuleWeights.LoadInceptionI3d(flow);
        for (int i = 0; i < rows.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var rgbExpected = rgbNet.forward(tensor(rows[i].RgbClip, [2, 3, 9, 32, 32])).mean([0]);
            var flowExpected = flowNet.forward(tensor(rows[i].FlowClip, [2, 2, 9, 32, 32])).mean([0]);
            var expected = rgbExpected.Plus(flowExpected).softmax(0).data<float>().ToArray();
            // Each stream's logits before fusion are columns of the same pass.
            for (int c = 0; c < 5; c++) Assert.Equal(rgbExpected[c].item<float>(), rgbLogits[i][c], 4);
            for (int c = 0; c < 5; c++) Assert.Equal(flowExpected[c].item<float>(), flowLogits[i][c], 4);
            for (int c = 0; c < 5; c++) Assert.Equal(expected[c], scores[i][c], 5);
            Assert.Equal((uint)(Array.IndexOf(expected, expected.Max()) + 1), predicted[i]);
        }

        string zip = Path.Combine(dir, "scorer.zip");
        ml.Model.Save(model, data.Schema, zip);
        var again = new MLContext(2).Model.Load(zip, out _).Transform(data).GetColumn<float[]>("Score").ToList();
        RoundTrip.ScoresEqual(scores, again);
    }

    [SkippableFact]
    public void PublishedLayoutWeightsOf400ClassesGetTheKineticsNames()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string weights = Path.Combine(TestPaths.SharedFixtures, "rgb_random.pt");
        using var x = ClipTensor.FromKineticsLayout(Npy.Read(Path.Combine(TestPaths.SharedFixtures, "rgb_random_input.npy")), "input");
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable([new FixtureRow { RgbClip = x.data<float>().ToArray() }], SchemaDefinitionFor(x.shape));
        var scored = ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = weights }).Fit(data).Transform(data);
        var score = scored.GetColumn<float[]>("Score").Single();
        VBuffer<ReadOnlyMemory<char>> keys = default;
        scored.Schema["PredictedLabel"].GetKeyValues(ref keys);
        var labels = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "models", "kinetics400_labels.txt")).Where(l => l.Length > 0).ToArray();
        Assert.Equal(labels, keys.DenseValues().Select(k => k.ToString()));
        // The fixture's reference top class (pytorch-i3d's logits) is 350.
        Assert.Equal(350, Array.IndexOf(score, score.Max()));
        Assert.Equal(labels[350], keys.GetValues()[(int)scored.GetColumn<uint>("PredictedLabel").Single() - 1].ToString());
    }

    private sealed class FixtureRow
    {
        public float[] RgbClip { get; set; } = [];
    }

    private static SchemaDefinition SchemaDefinitionFor(long[] shape)
    {
        var schema = SchemaDefinition.Create(typeof(FixtureRow));
        schema["RgbClip"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, shape.Select(d => (int)d).ToArray());
        return schema;
    }

    [Fact]
    public void RefusesMissingFilesSwappedStreamsAndClassMismatches()
    {
        var ml = new MLContext(1);
        string rgb = Weights("rgb5.pt", 5, 3, 4), flow6 = Weights("flow6.pt", 6, 2, 5);
        var missing = Assert.ThrowsAny<Exception>(() => ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = Path.Combine(dir, "nope.pt") }));
        Assert.Contains("nope.pt", missing.Message);
        var swapped = Assert.Throws<WeightFileException>(() => ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = flow6 }));
        Assert.Contains("flow6.pt: given as the rgb weights, but it is a 2-channel network", swapped.Message);
        var classes = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = rgb, FlowWeightsPath = flow6 }));
        Assert.Contains("different classes", classes.Message);
        Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreI3D(new I3DTorchScorerOptions()));
        Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = rgb, ClassNames = ["only", "two"] }));
    }

    private static string ZipText(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return string.Concat(archive.Entries.Where(e => e.Length < 1 << 20).Select(e =>
        {
            using var reader = new StreamReader(e.Open(), System.Text.Encoding.Latin1);
            return reader.ReadToEnd();
        }));
    }

    [Fact]
    public void TheOnnxScorerZipHoldsNoSessionSettingsAndRefusesANewerVersion()
    {
        manual_seed(2);
        using var net = new InceptionI3d(4, 3);
        net.eval();
        var ml = new MLContext(1);
        var data = Rows(ml, 2);
        var scorer = ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions
        {
            RgbModel = OnnxExporter.Export(net, new OnnxExportOptions { Size = 32 }),
            Session = new OnnxSessionSettings { IntraOpThreads = 1, OptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC },
        }).Fit(data);
        var scores = scorer.Transform(data).GetColumn<float[]>("Score").ToList();
        string zip = Path.Combine(dir, "onnx.zip");
        ml.Model.Save(scorer, data.Schema, zip);
        string text = ZipText(zip);
        Assert.DoesNotContain("IntraOpThreads", text);
        Assert.DoesNotContain("OptimizationLevel", text);
        // Streams are written by name, as every release wrote them (the enum's order is free to change).
        Assert.Contains("\"Name\":\"rgb\"", text);
        using (var archive = ZipFile.OpenRead(zip)) Assert.Contains(archive.Entries, e => e.FullName.EndsWith("Onnx_rgb", StringComparison.Ordinal));
        var loaded = new MLContext(2).Model.Load(zip, out _);
        Assert.Equal("CPU", Assert.IsType<I3DOnnxScoringTransformer>(loaded).ExecutionProviders[I3D.MLNet.Scoring.VideoStream.Rgb]);
        var again = loaded.Transform(data).GetColumn<float[]>("Score").ToList();
        for (int i = 0; i < scores.Count; i++) Assert.Equal(scores[i], again[i]);

        Assert.Equal(1, ZipVersions.Set(zip, "I3DONNXS", 0x00090001));
        var e = Assert.ThrowsAny<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        Assert.Contains("version", e.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void TheTorchClassifierZipRefusesANewerVersion()
    {
        manual_seed(3);
        using var net = new InceptionI3d(4, 3);
        string weights = Path.Combine(dir, "rgb.pt");
        ModuleWeights.Save(net, weights);
        var ml = new MLContext(1);
        var data = Rows(ml, 2);
        var model = ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = weights, Device = "cpu" }).Fit(data);
        string zip = Path.Combine(dir, "torch.zip");
        ml.Model.Save(model, data.Schema, zip);
        new MLContext(1).Model.Load(zip, out _);
        Assert.Contains("\"Name\":\"rgb\"", ZipText(zip));
        using (var archive = ZipFile.OpenRead(zip)) Assert.Contains(archive.Entries, e => e.FullName.EndsWith("Stream_rgb", StringComparison.Ordinal));
        Assert.Equal(1, ZipVersions.Set(zip, "I3DPREDT", 0x00090001));
        var e = Assert.ThrowsAny<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        Assert.Contains("version", e.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
