using I3D.MLNet.Datasets;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Cli.Commands;

/// <summary>Predictions of a model zip (LoadVideo -> clips -> I3D or ScoreI3D) for video files: per-stream logits, their sum, the scores.</summary>
internal static class ModelPrediction
{
    public static (List<Prediction> Predictions, string[] Classes) Predict(string zip, IReadOnlyList<string> inputs)
    {
        var ml = new MLContext(0);
        var model = EvaluateCommand.LoadModel(ml, zip);
        // The TorchSharp I3D from i3d train, or ScoreI3D's ONNX streams.
        var classifier = (model is IEnumerable<ITransformer> chain ? chain.OfType<IVideoClassifier>().LastOrDefault() : model as IVideoClassifier)
            ?? (IVideoClassifier)VideoClassification.Classifier(model);
        foreach (var input in inputs)
            if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file", input);
        var data = ml.Data.LoadFromEnumerable(inputs.Select(p => new LabelledVideo { Path = p }).ToList());
        var scored = model.Transform(data);
        var columns = classifier.StreamColumns.Select(kv => (Stream: kv.Key, Column: scored.Schema[kv.Value])).ToList();
        using var cursor = scored.GetRowCursor([.. columns.Select(c => c.Column), scored.Schema["Score"]]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getClips = columns.Select(c => cursor.GetGetter<VBuffer<float>>(c.Column)).ToArray();
        var results = new List<Prediction>();
        var buffer = default(VBuffer<float>);
        for (int row = 0; cursor.MoveNext(); row++)
        {
            var streams = new Dictionary<VideoStream, float[]>();
            for (int i = 0; i < columns.Count; i++)
            {
                getClips[i](ref buffer);
                var shape = ((VectorDataViewType)columns[i].Column.Type).Dimensions.Select(d => (long)d).ToArray();
                streams[columns[i].Stream] = classifier.StreamLogits(columns[i].Stream, buffer.DenseValues().ToArray(), shape);
            }
            var joint = new float[classifier.Classes.Count];
            foreach (var logits in streams.Values)
                for (int c = 0; c < joint.Length; c++) joint[c] += logits[c];
            getScore(ref buffer);
            results.Add(new Prediction(inputs[row], joint, streams, buffer.DenseValues().ToArray()));
        }
        return (results, [.. classifier.Classes]);
    }
}
