using System.IO.Compression;
using I3D.MLNet.Onnx;
using I3D.MLNet.Testing;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests;

/// <summary>The scorers' zips: what the model is (not where it ran), and newer format versions refused.</summary>
public sealed class ModelZipVersionTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-zip-versions-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed class ClipRow
    {
        [VectorType(1, 3, 9, 32, 32)]
        public float[] RgbClip { get; set; } = [];
    }

    private static IDataView Clips(MLContext ml)
    {
        var random = new Random(1);
        return ml.Data.LoadFromEnumerable(Enumerable.Range(0, 2).Select(_ => new ClipRow
        {
            RgbClip = [.. Enumerable.Range(0, 3 * 9 * 32 * 32).Select(_ => (float)(random.NextDouble() * 2 - 1))],
        }).ToList());
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
        var data = Clips(ml);
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
        var loaded = new MLContext(2).Model.Load(zip, out _);
        Assert.Equal("CPU", Assert.IsType<I3DOnnxScoringTransformer>(loaded).ExecutionProviders["rgb"]);
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
        var data = Clips(ml);
        var model = ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = weights, Device = "cpu" }).Fit(data);
        string zip = Path.Combine(dir, "torch.zip");
        ml.Model.Save(model, data.Schema, zip);
        new MLContext(1).Model.Load(zip, out _);
        Assert.Equal(1, ZipVersions.Set(zip, "I3DPREDT", 0x00090001));
        var e = Assert.ThrowsAny<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        Assert.Contains("version", e.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
