using I3D.MLNet.Datasets;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Cli.Commands;

/// <summary>Predictions of a model zip (LoadVideo -> clips -> I3D or ScoreI3D) for video files: per-stream logits, their sum, the scores.</summary>
internal static class ModelPrediction
{
    public static (List<Prediction> Predictions, string[] Classes) Predict(string zip, IReadOnlyList<string> inputs, ScoringPrecision precision = ScoringPrecision.Float32)
    {
        var ml = new MLContext(0);
        var model = ModelZipFile.Load(ml, zip, out _);
        // The TorchSharp I3D from i3d train, or ScoreI3D's ONNX streams.
        var classifier = (model is IEnumerable<ITransformer> chain ? chain.OfType<IVideoClassifier>().LastOrDefault() : model as IVideoClassifier)
            ?? (IVideoClassifier)VideoClassification.Classifier(model);
        if (classifier is I3DPredictionTransformer torchModel) torchModel.UsePrecision(precision);
        else if (precision != ScoringPrecision.Float32)
            throw new ArgumentException($"--precision {precision.Name()}: {zip} scores with ONNX Runtime (ScoreI3D on ONNX streams), which runs float32; bfloat16 is TorchSharp's (a zip from i3d train, or --rgb-weights / --flow-weights)");
        foreach (var input in inputs)
            if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file", input);
        var data = ml.Data.LoadFromEnumerable(inputs.Select(p => new LabelledVideo { Path = p }).ToList());
        var scored = model.Transform(data);
        // One pass: the classifier writes each stream's logits beside the fused scores.
        var columns = classifier.StreamColumns.Keys.Select(s => (Stream: s, Column: scored.Schema[StreamFusion.LogitsColumnName(s)])).ToList();
        using var cursor = scored.GetRowCursor([.. columns.Select(c => c.Column), scored.Schema["Score"]]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getLogits = columns.Select(c => cursor.GetGetter<VBuffer<float>>(c.Column)).ToArray();
        var results = new List<Prediction>();
        var buffer = default(VBuffer<float>);
        for (int row = 0; cursor.MoveNext(); row++)
        {
            var streams = new Dictionary<VideoStream, float[]>();
            for (int i = 0; i < columns.Count; i++)
            {
                getLogits[i](ref buffer);
                streams[columns[i].Stream] = buffer.DenseValues().ToArray();
            }
            getScore(ref buffer);
            results.Add(new Prediction(inputs[row], StreamFusion.Sum([.. streams.Values]), streams, buffer.DenseValues().ToArray()));
        }
        return (results, [.. classifier.Classes]);
    }
}
