using I3D.MLNet.Onnx;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Onnx.OnnxTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Onnx;

/// <summary>An exported model in ML.NET's own ApplyOnnxModel (the input renamed to <c>clip</c>, the shapes from
/// <see cref="I3DOnnxFormat.ShapeDictionary"/>): its softmax is ScoreI3D's Score.</summary>
public sealed class ApplyOnnxModelTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-apply-onnx").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private sealed class Row
    {
        public float[] RgbClip { get; set; } = [];
    }

    [Fact]
    public void ApplyOnnxModelWithTheShapeDictionaryScoresAsScoreI3D()
    {
        manual_seed(5);
        using var net = RandomizeBatchNorms(new InceptionI3d(numClasses: 4, inChannels: 3), 5);
        string model = Path.Combine(dir, "rgb.onnx");
        OnnxExporter.Save(OnnxExporter.Export(net, new OnnxExportOptions { Size = 32, Classes = ["a", "b", "c", "d"] }), model);

        var ml = new MLContext(1);
        var random = new Random(3);
        const int clips = 2, frames = 8, size = 32;
        var rows = Enumerable.Range(0, 3).Select(_ => new Row { RgbClip = [.. Enumerable.Range(0, clips * 3 * frames * size * size).Select(_ => (float)(random.NextDouble() * 2 - 1))] }).ToList();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.RgbClip)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, clips, 3, frames, size, size);
        var data = ml.Data.LoadFromEnumerable(rows, schema);

        var shapes = I3DOnnxFormat.ShapeDictionary(data.Schema["RgbClip"]);
        Assert.Equal([clips, 3, frames, size, size], shapes[I3DOnnxFormat.InputName]);
        var applied = ml.Transforms.CopyColumns(I3DOnnxFormat.InputName, "RgbClip")
            .Append(ml.Transforms.ApplyOnnxModel([I3DOnnxFormat.OutputName], [I3DOnnxFormat.InputName], model, shapes, gpuDeviceId: null, fallbackToCpu: false, recursionLimit: 100))
            .Fit(data).Transform(data);
        var logits = applied.GetColumn<float[]>(I3DOnnxFormat.OutputName).ToList();
        var scores = ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModelPath = model, RgbColumnName = "RgbClip" }).Fit(data).Transform(data).GetColumn<float[]>("Score").ToList();

        Assert.Equal(3, logits.Count);
        double worst = 0;
        for (int i = 0; i < logits.Count; i++)
        {
            // ApplyOnnxModel gives the batch of N clips' logits (N x classes); ScoreI3D averages the clips before its softmax.
            Assert.Equal(clips * 4, logits[i].Length);
            var mean = Enumerable.Range(0, 4).Select(k => (logits[i][k] + logits[i][4 + k]) / 2).ToArray();
            var probabilities = I3DOnnxFormat.Softmax(mean);
            worst = Math.Max(worst, probabilities.Zip(scores[i], (a, b) => Math.Abs(a - b)).Max());
        }
        log.WriteLine($"ApplyOnnxModel + softmax vs ScoreI3D: largest difference {worst:E2}");
        Assert.True(worst < 1e-6, $"ApplyOnnxModel vs ScoreI3D: {worst}");

        // A column without fixed shapes is refused naming it.
        var loose = ml.Data.LoadFromEnumerable(rows);
        var e = Assert.Throws<ArgumentException>(() => I3DOnnxFormat.ShapeDictionary(loose.Schema["RgbClip"]));
        Assert.Contains("'RgbClip'", e.Message);
    }
}
