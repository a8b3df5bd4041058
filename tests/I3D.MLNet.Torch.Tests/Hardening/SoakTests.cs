using System.Diagnostics;
using I3D.MLNet.Flow;
using I3D.MLNet.Onnx;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Hardening.ClipRows;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>Tests that run alone, after the others: what they measure is the process's (resident memory), which tests
/// running beside would move.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "alone";
}

/// <summary>
/// A long run in one process, as a service or a day of training sees it: 300 predictions through the TorchSharp
/// classifier and 300 through its ONNX export, 60 training steps, 100 optical flow computations. After a warm-up,
/// resident memory may not grow by more than 5% in any phase (the curve, sampled every 50 iterations after a full GC,
/// is in the output): a leak of a few MB per prediction would show within the phase.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class SoakTests(ITestOutputHelper log)
{
    private static double ResidentMegabytes()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 / 1e6;
    }

    /// <summary>Runs <paramref name="step"/> <paramref name="count"/> times after <paramref name="warmUp"/> more; resident memory every 50.</summary>
    private void Phase(string what, int warmUp, int count, Action<int> step, int every = 50)
    {
        for (int i = 0; i < warmUp; i++) step(i);
        var curve = new List<double> { ResidentMegabytes() };
        for (int i = 0; i < count; i++)
        {
            step(warmUp + i);
            if ((i + 1) % every == 0) curve.Add(ResidentMegabytes());
        }
        double growth = curve[^1] / curve[0] - 1;
        log.WriteLine($"{what}: resident MB every {every} after {warmUp} to warm up: {string.Join(", ", curve.Select(c => c.ToString("0")))} ({growth:+0.0%;-0.0%})");
        Assert.True(growth < 0.05, $"{what}: resident memory grew {growth:P1} ({curve[0]:0} -> {curve[^1]:0} MB)");
    }

    [Fact]
    public void LongRunsDoNotGrowResidentMemory()
    {
        var ml = new MLContext(1);
        var rows = ClipRows.Make(8, 4);
        var data = ml.Data.LoadFromEnumerable(rows, Schema());
        I3DTrainerOptions Training(int epochs) => new() { RgbColumnName = "Clip", Epochs = epochs, BatchSize = 2, ValidationFraction = 0, BatchNormMomentum = 0.1, Seed = 2, BatchNormCalibrationClips = 0 };

        // Training: a fit (8 clips, batch 2, 3 epochs: 12 SGD steps) every 10 iterations, 1 to warm up and 5 measured (60
        // steps), each model disposed before the next.
        ITransformer? model = null;
        Phase("training (a 12-step fit every 10)", 10, 50, step =>
        {
            if (step % 10 != 0) return;
            (model as IDisposable)?.Dispose();
            model = ml.MulticlassClassification.Trainers.I3D(Training(epochs: 3)).Fit(data);
        }, every: 10);

        var opts = new PredictionEngineOptions { InputSchemaDefinition = Schema(), OwnsTransformer = false };
        var trained = ml.MulticlassClassification.Trainers.I3D(Training(epochs: 1)).Fit(data);
        using (var torch = ml.Model.CreatePredictionEngine<Row, Scored>(trained, opts))
            Phase("TorchSharp predictions", 50, 300, i => Assert.Equal(2, torch.Predict(rows[i % rows.Count]).Score.Length));

        var (_, bytes) = Assert.Single(OnnxExporter.Export(VideoClassification.Classifier(trained), Size, Frames));
        var scorer = ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = bytes, RgbColumnName = "Clip" }).Fit(data);
        using (var onnx = ml.Model.CreatePredictionEngine<Row, Scored>(scorer, opts))
            Phase("ONNX predictions", 50, 300, i => Assert.Equal(2, onnx.Predict(rows[i % rows.Count]).Score.Length));
        scorer.Dispose();
        trained.Dispose();
        (model as IDisposable)?.Dispose();

        // 100 TV-L1 computations on 3 frames of 64 x 64 (two pairs each).
        var video = new VideoFrames(FrameElementKind.Rgb24, 3, 64, 64);
        var random = new Random(7);
        random.NextBytes(video.Bytes);
        var flow = new VideoFrames();
        Phase("optical flow (3 frames of 64 x 64)", 20, 100, _ => OpticalFlow.Compute(video, flow, new FlowOptions()));
    }
}
