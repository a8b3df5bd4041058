using I3D.MLNet.Onnx;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Hardening.ClipRows;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>
/// One fitted pipeline scored from 4 threads at once, as a service does: Transform over one IDataView with a cursor per
/// thread, and a PredictionEngine per thread; the TorchSharp classifier (a trained model zip) and the ONNX scorer (its
/// export). Every thread's scores equal the single-threaded ones; nothing deadlocks (each run has a time limit). Engines
/// that share one model are made with OwnsTransformer = false: ML.NET's default engine disposes its model, after which
/// scoring is an ObjectDisposedException that says so (it was a native crash: the first engine to go freed the weights
/// the others were using).
/// </summary>
public sealed class ConcurrencyTests(ITestOutputHelper log)
{
    private const int Rows = 6, Threads = 4;

    private static List<float[]> Scores(IDataView scored) => [.. scored.GetColumn<float[]>("Score")];

    /// <summary>Runs <paramref name="work"/> on <see cref="Threads"/> threads started together; fails on a deadlock (5 minutes).</summary>
    private static List<T> OnThreads<T>(Func<int, T> work)
    {
        using var start = new Barrier(Threads);
        var tasks = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() => { start.SignalAndWait(); return work(t); }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromMinutes(5)), "scoring from 4 threads did not finish in 5 minutes (deadlock?)");
        return [.. tasks.Select(t => t.Result)];
    }

    private void SameAsOneThread(string what, MLContext ml, ITransformer model, IDataView data, List<Row> rows)
    {
        var reference = Scores(model.Transform(data));
        Assert.Equal(Rows, reference.Count);
        // Transform over one IDataView, a cursor per thread.
        var viaCursors = OnThreads(_ => Scores(model.Transform(data)));
        // A PredictionEngine per thread (ML.NET's rule: an engine is not thread-safe, the model is).
        var shared = new PredictionEngineOptions { InputSchemaDefinition = Schema(), OwnsTransformer = false };
        var viaEngines = OnThreads(_ =>
        {
            using var engine = ml.Model.CreatePredictionEngine<Row, Scored>(model, shared);
            return rows.Select(r => engine.Predict(r).Score).ToList();
        });
        double worst = 0;
        foreach (var run in viaCursors.Concat(viaEngines))
            for (int i = 0; i < Rows; i++)
                worst = Math.Max(worst, run[i].Zip(reference[i], (a, b) => Math.Abs(a - b)).Max());
        log.WriteLine($"{what}: {Threads} threads x (cursor, PredictionEngine) x {Rows} rows vs one thread: largest score difference {worst:E2}");
        Assert.True(worst < 1e-6, $"{what}: scores from {Threads} threads differ from one thread's by {worst}");

        // ML.NET's default engine owns (and disposes) the model: later scoring says so in one line.
        using (var owner = ml.Model.CreatePredictionEngine<Row, Scored>(model, inputSchemaDefinition: Schema())) owner.Predict(rows[0]);
        var e = Assert.ThrowsAny<Exception>(() => Scores(model.Transform(data)));
        var disposed = Assert.IsType<ObjectDisposedException>(Innermost(e));
        log.WriteLine($"{what} after an owning engine was disposed: {disposed.Message}");
        Assert.Contains("OwnsTransformer = false", disposed.Message);
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    [Fact]
    public void FourThreadsScoreAsOneThread()
    {
        var ml = new MLContext(1);
        var rows = ClipRows.Make(Rows, 3);
        var data = ml.Data.LoadFromEnumerable(rows, Schema());
        var trainer = ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions
        {
            RgbColumnName = "Clip", Epochs = 1, BatchSize = 2, ValidationFraction = 0, BatchNormMomentum = 0.1, Seed = 2,
        });
        var model = trainer.Fit(data);
        var (_, bytes) = Assert.Single(OnnxExporter.Export(VideoClassification.Classifier(model), Size, Frames));
        SameAsOneThread("TorchSharp classifier", ml, model, data, rows);

        var onnx = ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = bytes, RgbColumnName = "Clip" }).Fit(data);
        SameAsOneThread("ONNX scorer", ml, onnx, data, rows);
    }
}
