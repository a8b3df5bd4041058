using I3D.MLNet.Interactive.Pictures;
using I3D.MLNet.Interactive.Plots;
using Microsoft.ML.Data;

namespace I3D.MLNet.Interactive.Tables;

/// <summary>
/// ML.NET's multiclass metrics with the class names: a notebook shows it as a table (overall figures, then per class
/// precision, recall and count); <see cref="ConfusionMatrixPlot"/> draws the confusion matrix.
/// </summary>
public sealed record ClassificationReport(MulticlassClassificationMetrics Metrics, IReadOnlyList<string> Classes)
{
    /// <summary>The confusion matrix as a picture.</summary>
    public PngPicture ConfusionMatrixPlot(string title = "Confusion matrix") => Charts.ConfusionMatrix(Metrics.ConfusionMatrix, Classes, title);

    /// <summary>(name, value) rows of the overall figures.</summary>
    public IReadOnlyList<(string Name, double Value)> Overall()
    {
        var rows = new List<(string, double)>
        {
            ("accuracy (micro)", Metrics.MicroAccuracy),
            ("accuracy (macro, mean per class)", Metrics.MacroAccuracy),
            ("log loss", Metrics.LogLoss),
            ("log-loss reduction", Metrics.LogLossReduction),
        };
        if (Metrics.TopKPredictionCount > 0) rows.Add(($"top-{Metrics.TopKPredictionCount} accuracy", Metrics.TopKAccuracy));
        return rows;
    }

    /// <summary>Precision, recall and number of videos of each class.</summary>
    public HtmlTable PerClass()
    {
        var cm = Metrics.ConfusionMatrix;
        if (Classes.Count != cm.NumberOfClasses)
            throw new InvalidOperationException($"{Classes.Count} class names for a {cm.NumberOfClasses}-class confusion matrix");
        return HtmlTable.From(Classes.Select((c, i) => new { Class = c, Precision = cm.PerClassPrecision[i], Recall = cm.PerClassRecall[i], Videos = cm.Counts[i].Sum() }));
    }

    /// <summary>The overall figures and the per-class table as HTML.</summary>
    public string ToHtml() => HtmlTable.From(Overall().Select(r => new { Metric = r.Name, r.Value })).ToHtml() + PerClass().ToHtml();

    /// <inheritdoc/>
    public override string ToString() => string.Join(Environment.NewLine, Overall().Select(r => $"{r.Name}: {HtmlTable.Cell(r.Value)}"));
}
