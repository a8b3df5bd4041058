using System.Text.Json;
using I3D.MLNet.Datasets;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;

namespace I3D.MLNet.Cli.Commands;

/// <summary>Accuracy, top-5, per-class accuracy and the confusion matrix of a model on a labelled dataset.</summary>
internal sealed record EvaluationReport(double Accuracy, double Top5, Dictionary<string, double> PerClass, int[][] Confusion, string[] Classes)
{
    public static EvaluationReport Compute(MLContext ml, ITransformer model, VideoDataset dataset, IProgress<(int, int, string)>? progress = null)
    {
        var classifier = VideoClassification.Classifier(model);
        var classes = classifier.Classes.ToArray();
        var data = VideoClassification.MapLabels(ml, dataset, classes);
        var scored = model.Transform(data);
        int n = classes.Length;
        var confusion = new int[n][];
        for (int i = 0; i < n; i++) confusion[i] = new int[n];
        int total = 0, top1 = 0, top5 = 0;
        using var cursor = scored.GetRowCursor([scored.Schema["Label"], scored.Schema["Score"]]);
        var getLabel = cursor.GetGetter<uint>(scored.Schema["Label"]);
        var getScore = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(scored.Schema["Score"]);
        uint label = 0;
        var score = default(Microsoft.ML.Data.VBuffer<float>);
        while (cursor.MoveNext())
        {
            progress?.Report((total, dataset.Videos.Count, "evaluate"));
            getLabel(ref label);
            getScore(ref score);
            var s = score.DenseValues().ToArray();
            int truth = (int)label - 1;
            var ranked = Enumerable.Range(0, n).OrderByDescending(i => s[i]).ToArray();
            confusion[truth][ranked[0]]++;
            total++;
            if (ranked[0] == truth) top1++;
            if (ranked.Take(5).Contains(truth)) top5++;
        }
        if (total == 0) throw new InvalidDataException("no videos to evaluate");
        var perClass = new Dictionary<string, double>();
        for (int c = 0; c < n; c++)
        {
            int count = confusion[c].Sum();
            if (count > 0) perClass[classes[c]] = (double)confusion[c][c] / count;
        }
        return new EvaluationReport((double)top1 / total, (double)top5 / total, perClass, confusion, classes);
    }

    public string ToJson() => JsonSerializer.Serialize(new { accuracy = Math.Round(Accuracy, 6), top5 = Math.Round(Top5, 6), perClass = PerClass.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 6)), confusion = Confusion });

    public void Print(TextWriter output)
    {
        output.WriteLine($"accuracy {Accuracy:P1}, top-5 {Top5:P1}");
        foreach (var (name, accuracy) in PerClass) output.WriteLine($"  {name,-24} {accuracy:P1}");
        output.WriteLine("confusion (rows: true class, columns: predicted):");
        foreach (var row in Confusion) output.WriteLine("  " + string.Join(" ", row.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(4))));
    }
}
