using I3D.MLNet.Onnx;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Tests.Shared;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>
/// Each registered architecture through the whole ML.NET path: the I3D trainer on a separable clip task (the loss falls,
/// the classes separate), the model zip reloaded with identical scores, ONNX export scored by ONNX Runtime against the
/// TorchSharp stream, and a wrong clip shape refused in one line naming the architecture.
/// </summary>
public sealed class ArchitectureTrainerTests(ITestOutputHelper log)
{
    private sealed class Row
    {
        public float[] Clip { get; set; } = [];

        [KeyType(2)]
        public uint Label { get; set; }
    }

    /// <summary>Rows of one clip each: class 1 dark (-0.4), class 2 bright (+0.4), uniform noise of +-0.5.</summary>
    private static IDataView Clips(MLContext ml, int rows, long channels, long frames, long size, int seed)
    {
        var random = new Random(seed);
        long length = channels * frames * size * size;
        var data = Enumerable.Range(0, rows).Select(i =>
        {
            uint label = (uint)(i % 2) + 1;
            float level = label == 1 ? -0.4f : 0.4f;
            return new Row { Clip = [.. Enumerable.Range(0, (int)length).Select(_ => Math.Clamp(level + (float)(random.NextDouble() - 0.5), -1f, 1f))], Label = label };
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Clip)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, (int)channels, (int)frames, (int)size, (int)size);
        return ml.Data.LoadFromEnumerable(data, schema);
    }

    public static TheoryData<string, string, int, int, int, bool, bool> Cases => new()
    {
        // architecture, stream, frames, size, epochs, fixed (C3D: only fc8 trains, an end-to-end step costs seconds here),
        // ImageNet start (the ResNet-18 towers from ResNet18.onnx: the offline ImageNet start of the 2-D architectures)
        { "lstm", "rgb", 4, 32, 4, false, false },
        { "c3d", "rgb", 16, 112, 3, true, false },
        { "c3d", "rgb", 16, 48, 4, false, false }, // fc6 sized for the crop (2048 inputs): the whole network trains, the zip keeps the crop
        { "two-stream", "rgb", 2, 32, 4, false, false },
        { "two-stream", "flow", 10, 32, 4, false, false },
        { "3d-fused", "rgb+flow", 50, 32, 3, false, false },
        { "two-stream-resnet18", "rgb", 2, 64, 3, true, true },
        { "two-stream-resnet18", "flow", 10, 64, 3, false, true },
        { "lstm-resnet18", "rgb", 4, 64, 6, false, true },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void TrainsSavesReloadsAndExports(string architecture, string stream, int frames, int size, int epochs, bool fixedFeatures, bool imageNet)
    {
        if (imageNet) TestPaths.SkipUnlessResNet18Onnx();
        var backbone = VideoBackbones.Get(architecture);
        var videoStream = VideoStreams.Parse(stream, "the test");
        var ml = new MLContext(1);
        var data = Clips(ml, 16, videoStream.Channels(), frames, size, seed: 7);
        var losses = new List<double>();
        var options = new I3DTrainerOptions
        {
            Backbone = backbone.Name, RgbColumnName = videoStream == VideoStream.Rgb ? "Clip" : null, FlowColumnName = videoStream == VideoStream.Flow ? "Clip" : null,
            RgbAndFlowColumnName = videoStream == VideoStream.RgbAndFlow ? "Clip" : null,
            Epochs = epochs, BatchSize = 8, LearningRate = 0.01, ValidationFraction = 0, BatchNormMomentum = 0.1, FixedFeatures = fixedFeatures, Seed = 3,
            Initialization = imageNet ? I3DInitialization.InflatedImageNet : I3DInitialization.Scratch,
            RgbWeights = imageNet && videoStream == VideoStream.Rgb ? TestPaths.ResNet18Onnx : null, FlowWeights = imageNet && videoStream == VideoStream.Flow ? TestPaths.ResNet18Onnx : null,
            Progress = new Progress(p => { if (p.Phase == "epoch") losses.Add(p.Loss); }),
        };
        var model = ml.MulticlassClassification.Trainers.I3D(options).Fit(data);
        var scored = model.Transform(data);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        log.WriteLine($"{backbone.Name} {stream}: loss by epoch {string.Join(", ", losses.Select(l => l.ToString("0.000")))}; accuracy {metrics.MicroAccuracy:0.00}");
        Assert.True(losses[^1] < losses[0], $"the loss did not fall: {string.Join(", ", losses)}");
        Assert.True(metrics.MicroAccuracy >= 0.9, $"accuracy {metrics.MicroAccuracy} (chance 0.5)");

        // The zip names the architecture; a new context loads it and scores the same.
        string dir = Directory.CreateTempSubdirectory("i3d-arch-").FullName;
        try
        {
            string zip = Path.Combine(dir, "model.zip");
            ml.Model.Save(model, data.Schema, zip);
            var scores = scored.GetColumn<float[]>("Score").ToList();
            var reloaded = new MLContext(2).Model.Load(zip, out _);
            var again = reloaded.Transform(data).GetColumn<float[]>("Score").ToList();
            RoundTrip.ScoresEqual(scores, again);

            // ONNX (BatchNorm folded) against the TorchSharp stream on two clips.
            var classifier = VideoClassification.Classifier(reloaded);
            var (exported, bytes) = Assert.Single(OnnxExporter.Export(classifier, size, frames));
            Assert.Equal(videoStream, exported);
            using var onnx = I3DOnnxModel.Load(bytes, $"{backbone.Name} {stream}");
            long[] shape = [2, videoStream.Channels(), frames, size, size];
            var random = new Random(9);
            var clips = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < clips.Length; i++) clips[i] = (float)(random.NextDouble() * 2 - 1);
            var torchLogits = classifier.StreamLogits(videoStream, clips, shape); // both averaged over the two clips
            var onnxLogits = onnx.Logits(clips, shape);
            double err = RelativeL2(onnxLogits, torchLogits);
            log.WriteLine($"{backbone.Name} {stream}: ONNX vs TorchSharp relative L2 {err:E2}");
            Assert.True(err < 1e-4, $"ONNX vs TorchSharp: {err}");

            // The export through ScoreI3D (the stream's model option, the same clip column) scores as the zip does.
            var onnxOptions = videoStream switch
            {
                VideoStream.Rgb => new I3DOnnxScorerOptions { RgbModel = bytes, RgbColumnName = "Clip" },
                VideoStream.Flow => new I3DOnnxScorerOptions { FlowModel = bytes, FlowColumnName = "Clip" },
                _ => new I3DOnnxScorerOptions { RgbAndFlowModel = bytes, RgbAndFlowColumnName = "Clip" },
            };
            var onnxScores = ml.Transforms.ScoreI3D(onnxOptions).Fit(data).Transform(data).GetColumn<float[]>("Score").ToList();
            double worst = scores.Zip(onnxScores, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
            log.WriteLine($"{backbone.Name} {stream}: ScoreI3D on the ONNX export vs the zip, largest score difference {worst:E2}");
            Assert.True(worst < 1e-4, $"ScoreI3D vs the zip: {worst}");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AClipOfTheWrongShapeIsOneLineNamingTheArchitectureAndTheShapeItTakes()
    {
        var ml = new MLContext(1);
        var data = Clips(ml, 4, 3, 8, 112, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions { Backbone = "c3d", RgbColumnName = "Clip", Epochs = 1 }).Fit(data));
        Assert.Contains("C3D takes clips (N, 3, 16, S, S) with S >= 32 (Table 1: 112)", e.Message);
        Assert.Contains("'Clip'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var flow = Clips(ml, 4, 2, 8, 32, seed: 1);
        e = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions { Backbone = "two-stream", RgbColumnName = null, FlowColumnName = "Clip", Epochs = 1 }).Fit(flow));
        Assert.Contains("TwoStream2d takes clips (N, 2, T, H, W) with T a multiple of 10", e.Message);
        // An architecture trained on other streams than the column's.
        var mismatch = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions { Backbone = "c3d", RgbColumnName = null, FlowColumnName = "Clip" }));
        Assert.Contains("C3D trains on RGB clips, not flow (column 'Clip')", mismatch.Message);
        var unknown = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions { Backbone = "VGG", RgbColumnName = "Clip" }));
        Assert.Contains("unknown architecture 'VGG'", unknown.Message);
        Assert.Contains("C3D", unknown.Message);
    }

    private static double RelativeL2(float[] a, float[] b)
        => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum() / b.Sum(y => (double)y * y));

    private sealed class Progress(Action<I3DTrainingProgress> report) : IProgress<I3DTrainingProgress>
    {
        public void Report(I3DTrainingProgress value) => report(value);
    }
}
