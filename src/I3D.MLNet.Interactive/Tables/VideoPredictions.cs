using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Interactive.Tables;

/// <summary>One scored video as a notebook table row: the best class, its probability, the runners-up.</summary>
public sealed record VideoPrediction(string Video, string? TrueClass, string Predicted, double Probability, string Top3);

/// <summary>Reads scored rows into <see cref="VideoPrediction"/> rows.</summary>
public static class VideoPredictions
{
    /// <summary>
    /// Reads the <c>Score</c> column of scored rows (the I3D trainer's model or ScoreI3D) into table rows, with the
    /// class names in score order and the <c>Label</c> column as the true class when there is one.
    /// </summary>
    public static IReadOnlyList<VideoPrediction> Read(IDataView scored, IReadOnlyList<string> classes, string pathColumn = "Path", string scoreColumn = "Score", string labelColumn = "Label")
    {
        var path = DataRows.Column(scored, pathColumn);
        var score = DataRows.Column(scored, scoreColumn);
        var label = scored.Schema.GetColumnOrNull(labelColumn);
        var columns = new List<DataViewSchema.Column> { path, score };
        if (label is { } l) columns.Add(l);
        using var cursor = scored.GetRowCursor(columns);
        var getPath = cursor.GetGetter<ReadOnlyMemory<char>>(path);
        var getScore = cursor.GetGetter<VBuffer<float>>(score);
        Func<string?> trueClass = () => null;
        if (label is { } lc && lc.Type is KeyDataViewType)
        {
            var getKey = cursor.GetGetter<uint>(lc);
            trueClass = () => { uint k = 0; getKey(ref k); return k >= 1 && k <= classes.Count ? classes[(int)k - 1] : null; };
        }
        else if (label is { } ls && ls.Type is TextDataViewType)
        {
            var getText = cursor.GetGetter<ReadOnlyMemory<char>>(ls);
            trueClass = () => { var t = default(ReadOnlyMemory<char>); getText(ref t); return t.ToString(); };
        }
        var rows = new List<VideoPrediction>();
        var p = default(ReadOnlyMemory<char>);
        var s = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getPath(ref p);
            getScore(ref s);
            var values = s.DenseValues().ToArray();
            if (values.Length != classes.Count) throw new InvalidOperationException($"{p}: {values.Length} scores for {classes.Count} classes");
            var ranked = Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ToArray();
            string top3 = string.Join(", ", ranked.Take(3).Select(i => $"{classes[i]} {values[i]:P1}"));
            rows.Add(new VideoPrediction(Path.GetFileName(p.ToString()), trueClass(), classes[ranked[0]], values[ranked[0]], top3));
        }
        return rows;
    }
}
