using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Torch.Tests.Training;

public class TrainerTests
{
    internal static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-train-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>LoadVideo -> SampleClips(Auto) -> label key -> I3D: the pipeline the CLI and the demo use, tiny.</summary>
    internal static IEstimator<ITransformer> Pipeline(MLContext ml, VideoDataset dataset, I3DTrainerOptions options, int frames = 8, int size = 56)
    {
        var decode = new VideoDecodeOptions { ShorterSide = size + size / 7 };
        var sampling = new ClipSamplerOptions { Mode = ClipSamplingMode.Auto, Frames = frames, CropSize = size, Seed = options.Seed };
        return ml.Transforms.Conversion.MapValueToKey("Label", keyData: dataset.KeyData(ml))
            .Append(ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = decode }))
            .Append(ml.Transforms.SampleClips("RgbClip", "Frames", sampling))
            .Append(ml.MulticlassClassification.Trainers.I3D(options));
    }

    [Fact]
    public void TrainsEvaluatesSavesAndReloadsWithIdenticalScores()
    {
        string dir = Temp("fit");
        SyntheticMotion.Write(dir, new SyntheticMotionOptions { PerClass = 2, TestPerClass = 1, Frames = 12, Size = 64, Seed = 3 });
        var ml = new MLContext(1);
        var train = VideoDataset.FromFolder(Path.Combine(dir, "train"));
        var test = VideoDataset.FromFolder(Path.Combine(dir, "test"));
        var progress = new List<I3DTrainingProgress>();
        var options = new I3DTrainerOptions { Epochs = 2, BatchSize = 4, ValidationFraction = 0, Progress = new SyncProgress<I3DTrainingProgress>(progress.Add) };
        var model = Pipeline(ml, train, options).Fit(train.ToDataView(ml));

        Assert.Contains(progress, p => p.Phase == "train" && double.IsFinite(p.Loss));
        Assert.Equal(2, progress.Count(p => p.Phase == "epoch"));

        var scored = model.Transform(test.ToDataView(ml));
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.InRange(metrics.MacroAccuracy, 0, 1);
        var scores = scored.GetColumn<float[]>("Score").ToList();
        Assert.Equal(test.Videos.Count, scores.Count);
        Assert.All(scores, s => Assert.Equal(1.0, s.Sum(), 3));

        string zip = Path.Combine(dir, "model.zip");
        ml.Model.Save(model, test.ToDataView(ml).Schema, zip);
        var reloaded = new MLContext(2).Model.Load(zip, out _);
        var again = reloaded.Transform(test.ToDataView(ml)).GetColumn<float[]>("Score").ToList();
        RoundTrip.ScoresEqual(scores, again);
    }

    /// <summary>Two classes a network cannot miss (the sign of the x flow): the trainer must get them all right, in
    /// float32 and in mixed precision (bfloat16 convolutions, float32 weights: what it saves stays float32).</summary>
    [Theory]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void LearnsATriviallySeparableTaskAndScoresItWithRunningStatistics(TrainingPrecision precision)
    {
        var random = new Random(4);
        var rows = Enumerable.Range(0, 32).Select(i =>
        {
            uint label = (uint)(i % 2) + 1;
            var clip = new float[2 * 8 * 16 * 16];
            for (int j = 0; j < clip.Length; j++)
                clip[j] = (float)(random.NextDouble() * 0.2 - 0.1) + (j < clip.Length / 2 ? (label == 1 ? 0.3f : -0.3f) : 0);
            return new TensorRow { FlowClip = clip, Label = label };
        }).ToList();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var losses = new List<double>();
        var options = new I3DTrainerOptions
        {
            RgbColumnName = null, FlowColumnName = "FlowClip", Epochs = 6, BatchSize = 8, LearningRate = 0.01, ValidationFraction = 0,
            BatchNormMomentum = 0.1, Precision = precision,
            Progress = new SyncProgress<I3DTrainingProgress>(p => { if (p.Phase == "epoch") losses.Add(p.Loss); }),
        };
        var model = ml.MulticlassClassification.Trainers.I3D(options).Fit(data);
        Assert.All(model.StreamNetworks.SelectMany(s => s.Module.parameters()), p => Assert.Equal(TorchSharp.torch.ScalarType.Float32, p.dtype));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data));
        Assert.True(losses[^1] < Math.Log(2) / 2, $"training loss by epoch: {string.Join(", ", losses.Select(l => l.ToString("0.000")))}");
        Assert.True(metrics.MicroAccuracy >= 0.95, $"accuracy {metrics.MicroAccuracy} with losses {string.Join(", ", losses.Select(l => l.ToString("0.000")))}");
    }

    /// <summary>
    /// A checkpoint folder resumes a run moved to another device (or thread count: the same rule), and refuses a run
    /// with other options in one line naming them, leaving the checkpoint as it was (it used to be overwritten).
    /// </summary>
    [Fact]
    public void ACheckpointResumesOnAnotherDeviceAndRefusesAnotherRun()
    {
        var rows = RandomFlowRows();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(rows);
        string checkpoints = Temp("checkpoint-owner");
        var epochs = new List<int>();
        var options = new I3DTrainerOptions
        {
            RgbColumnName = null, FlowColumnName = "FlowClip", Epochs = 1, BatchSize = 4, ValidationFraction = 0, CheckpointDirectory = checkpoints,
            BatchNormCalibrationClips = 0, Progress = new SyncProgress<I3DTrainingProgress>(p => { if (p.Phase == "epoch") epochs.Add(p.Epoch); }),
        };
        ml.MulticlassClassification.Trainers.I3D(options).Fit(data);
        Assert.Equal([0], epochs);

        // Extended by an epoch, on "cpu" instead of "auto": resumes after epoch 1.
        epochs.Clear();
        ml.MulticlassClassification.Trainers.I3D(options with { Epochs = 2, Device = "cpu" }).Fit(data);
        Assert.Equal([1], epochs);

        string file = Path.Combine(checkpoints, "checkpoint.bin");
        byte[] before = File.ReadAllBytes(file);
        var e = Assert.Throws<CheckpointOfAnotherRunException>(() => ml.MulticlassClassification.Trainers.I3D(options with { Epochs = 2, LearningRate = 0.5 }).Fit(data));
        Assert.Contains("LearningRate 0.01 -> 0.5", e.Message);
        Assert.Contains(file, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(before, File.ReadAllBytes(file));
    }

    /// <summary>
    /// The plateau rule counts SGD steps as well as epochs: epochs of 1 or 2 batches (a 16-video transfer target) wait
    /// 32 or 16 epochs before the learning rate drops, epochs of 22 batches (the measured architecture run) wait the
    /// 2 epochs of <see cref="I3DTrainerOptions.Patience"/>, and PatienceSteps 0 leaves epochs alone to decide.
    /// </summary>
    [Fact]
    public void ThePlateauWaitsForEnoughStepsAsWellAsEpochs()
    {
        var options = new I3DTrainerOptions();
        Assert.Equal(2, options.Patience);
        Assert.Equal(32, options.PatienceSteps);
        Assert.Equal(32, options.PatienceEpochs(1));
        Assert.Equal(16, options.PatienceEpochs(2));
        Assert.Equal(11, options.PatienceEpochs(3));
        Assert.Equal(4, options.PatienceEpochs(8));
        Assert.Equal(2, options.PatienceEpochs(16));
        Assert.Equal(2, options.PatienceEpochs(22));
        Assert.Equal(2, options.PatienceEpochs(0));
        Assert.Equal(2, (options with { PatienceSteps = 0 }).PatienceEpochs(1));
        Assert.Equal(5, (options with { Patience = 5 }).PatienceEpochs(22));
    }

    /// <summary>Eight flow clips of 2 x 8 x 16 x 16 uniform in [-1, 1], labels alternating 1, 2.</summary>
    internal static List<TensorRow> RandomFlowRows()
    {
        var random = new Random(5);
        return [.. Enumerable.Range(0, 8).Select(i => new TensorRow
        {
            FlowClip = [.. Enumerable.Range(0, 2 * 8 * 16 * 16).Select(_ => (float)(random.NextDouble() * 2 - 1))],
            Label = (uint)(i % 2) + 1,
        })];
    }

    internal sealed class TensorRow
    {
        [VectorType(1, 2, 8, 16, 16)]
        public float[] FlowClip { get; set; } = [];

        [KeyType(2)]
        public uint Label { get; set; }
    }

    internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
