using I3D.MLNet.Datasets;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>One cell's work: an architecture fitted on training videos, then scored once on the test videos.</summary>
internal static class ExperimentTraining
{
    /// <summary>
    /// Fits <paramref name="backbone"/> with <paramref name="clips"/> and <paramref name="trainer"/> on <paramref name="train"/>,
    /// gives the fitted classifier to <paramref name="keep"/> (e.g. to write its weights), and returns its cells on
    /// <paramref name="test"/>: each stream alone (its logits' argmax) and, with two streams, their fusion. The networks
    /// are disposed before it returns.
    /// </summary>
    public static IReadOnlyList<ExperimentCell> TrainAndScore(string what, VideoBackbone backbone, ClipPipelineOptions clips, I3DTrainerOptions trainer,
        VideoDataset train, VideoDataset test, TextWriter log, Action<I3DPredictionTransformer>? keep = null)
    {
        log.WriteLine($"experiment: {what}: {clips.Streams} clips of {clips.Frames} frames (1 of every {clips.FrameStride}) at {clips.Size} x {clips.Size}, "
            + $"{train.Videos.Count} training videos, {trainer.Epochs} epochs, {trainer.Initialization} start{(trainer.FixedFeatures ? ", only the classifier trained" : "")}");
        var ml = new MLContext(trainer.Seed);
        TrainerLog.WriteTo(ml, log); // warnings, and where a killed run resumes
        var model = VideoClassification.Create(ml, clips, trainer).Fit(VideoClassification.MapLabels(ml, train, train.Classes));
        using var classifier = VideoClassification.Classifier(model);
        keep?.Invoke(classifier);
        return Score(ml, model, classifier.Streams, test, train.Classes, backbone);
    }

    private static List<ExperimentCell> Score(MLContext ml, ITransformer model, IReadOnlyList<VideoStream> streams, VideoDataset test, IReadOnlyList<string> classes, VideoBackbone backbone)
    {
        var scored = model.Transform(VideoClassification.MapLabels(ml, test, classes));
        var columns = streams.Select(s => scored.Schema[StreamFusion.LogitsColumnName(s)]).ToList();
        using var cursor = scored.GetRowCursor([scored.Schema["Label"], scored.Schema["Score"], .. columns]);
        var getLabel = cursor.GetGetter<uint>(scored.Schema["Label"]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getLogits = columns.Select(c => cursor.GetGetter<VBuffer<float>>(c)).ToArray();
        var rows = new List<(int Truth, int[] Predicted)>(); // one prediction per stream, then the fusion
        uint label = 0;
        var buffer = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getLabel(ref label);
            var predicted = new int[streams.Count + 1];
            for (int i = 0; i < streams.Count; i++)
            {
                getLogits[i](ref buffer);
                predicted[i] = ClassScores.ArgMax(buffer.DenseValues().ToArray());
            }
            getScore(ref buffer);
            predicted[^1] = ClassScores.ArgMax(buffer.DenseValues().ToArray());
            rows.Add(((int)label - 1, predicted));
        }
        var cells = new List<ExperimentCell>();
        for (int i = 0; i < streams.Count; i++) cells.Add(Cell(backbone, streams[i].Name(), rows.Select(r => (r.Truth, r.Predicted[i])), classes));
        if (streams.Count > 1) cells.Add(Cell(backbone, VideoStream.RgbAndFlow.Name(), rows.Select(r => (r.Truth, r.Predicted[^1])), classes));
        return cells;
    }

    private static ExperimentCell Cell(VideoBackbone backbone, string streams, IEnumerable<(int Truth, int Predicted)> rows, IReadOnlyList<string> classes)
    {
        var list = rows.ToList();
        var perClass = classes.Select((c, k) => (c, k)).Where(p => list.Any(r => r.Truth == p.k))
            .ToDictionary(p => p.c, p => list.Where(r => r.Truth == p.k).Average(r => r.Predicted == r.Truth ? 1.0 : 0.0));
        var perFamily = perClass.GroupBy(kv => FamilyOf(kv.Key)).Where(g => g.Key is not null)
            .ToDictionary(g => g.Key!, g => list.Where(r => FamilyOf(classes[r.Truth]) == g.Key).Average(r => r.Predicted == r.Truth ? 1.0 : 0.0));
        return new ExperimentCell(backbone.Name, streams, list.Average(r => r.Predicted == r.Truth ? 1.0 : 0.0), perClass, perFamily);
    }

    /// <summary>The synthetic benchmark's family of a class (appearance, direction, order, transfer); null for other data.</summary>
    private static string? FamilyOf(string className)
    {
        try { return SyntheticActions.Family(className); }
        catch (ArgumentException) { return null; }
    }
}
