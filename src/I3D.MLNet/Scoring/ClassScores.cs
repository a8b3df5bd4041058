using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.Scoring;

/// <summary>
/// A video classifier at the end of a pipeline (the TorchSharp I3D or the ONNX scorer): its classes, the clip column
/// of each stream and one stream's logits, so tools can report per-stream results.
/// </summary>
public interface IVideoClassifier
{
    /// <summary>Class names in class order.</summary>
    IReadOnlyList<string> Classes { get; }

    /// <summary>The clip column each stream (rgb, flow) reads.</summary>
    IReadOnlyDictionary<VideoStream, string> StreamColumns { get; }

    /// <summary>One stream's logits for one row's clips (N x C x T x H x W), averaged over the clips.</summary>
    float[] StreamLogits(VideoStream stream, float[] clips, long[] shape);
}

/// <summary>The outputs of our classifiers, as ML.NET's multiclass trainers write them.</summary>
internal static class ClassScores
{
    /// <summary>The estimator-time shape of a classifier's output: the input's columns, <c>Score</c>, <c>PredictedLabel</c>
    /// (a key of <paramref name="predictedItemType"/>) and each stream's logits.</summary>
    public static SchemaShape OutputShape(SchemaShape input, string scoreColumnName, string predictedLabelColumnName, DataViewType predictedItemType, IEnumerable<VideoStream> streams)
    {
        var result = input.ToDictionary(c => c.Name);
        result[scoreColumnName] = new SchemaShape.Column(scoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        result[predictedLabelColumnName] = new SchemaShape.Column(predictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, predictedItemType, true);
        foreach (var stream in streams)
        {
            string name = StreamFusion.LogitsColumnName(stream);
            result[name] = new SchemaShape.Column(name, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        }
        return new SchemaShape(result.Values);
    }

    /// <summary>A float vector column of one value per class, the class names as slot names (a stream's logits).</summary>
    public static DataViewSchema.DetachedColumn LogitsColumn(string name, IReadOnlyList<string> classes)
    {
        var names = new VBuffer<ReadOnlyMemory<char>>(classes.Count, [.. classes.Select(c => c.AsMemory())]);
        var annotations = new DataViewSchema.Annotations.Builder();
        annotations.AddSlotNames(classes.Count, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        return new DataViewSchema.DetachedColumn(name, new VectorDataViewType(NumberDataViewType.Single, classes.Count), annotations.ToAnnotations());
    }

    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        var p = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp(logits[i] - max);
        return [.. p.Select(v => (float)(v / sum))];
    }

    /// <summary>Index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>
    /// <c>Score</c> (float vector with the class names as slot names and the multiclass score annotations) and
    /// <c>PredictedLabel</c> (a key with the class names as key values): what <c>MulticlassClassification.Evaluate</c> needs.
    /// </summary>
    public static DataViewSchema.DetachedColumn[] OutputColumns(string scoreColumnName, string predictedLabelColumnName, IReadOnlyList<string> classes)
    {
        int n = classes.Count;
        var names = new VBuffer<ReadOnlyMemory<char>>(n, [.. classes.Select(c => c.AsMemory())]);
        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        scoreAnnotations.AddSlotNames(n, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        scoreAnnotations.Add(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification.AsMemory());
        scoreAnnotations.Add(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
        var keyAnnotations = new DataViewSchema.Annotations.Builder();
        keyAnnotations.AddKeyValues(n, TextDataViewType.Instance, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        return
        [
            new DataViewSchema.DetachedColumn(scoreColumnName, new VectorDataViewType(NumberDataViewType.Single, n), scoreAnnotations.ToAnnotations()),
            new DataViewSchema.DetachedColumn(predictedLabelColumnName, new KeyDataViewType(typeof(uint), n), keyAnnotations.ToAnnotations()),
        ];
    }
}

/// <summary>
/// The getters of a classifier's <c>Score</c> (output 0), <c>PredictedLabel</c> (output 1) and each stream's logits
/// (outputs 2, 3, ...): the row's result is computed once per row and cursor however many of them are read (the
/// networks cost seconds per row).
/// </summary>
internal sealed class ScoreGetters
{
    private sealed class RowCache
    {
        public long Position = -1;
        public float[] Probabilities = [];
        public float[][] Streams = [];
    }

    private readonly ConditionalWeakTable<DataViewRow, RowCache> _caches = new();

    /// <summary>The getter of output <paramref name="iinfo"/> on <paramref name="input"/>; <paramref name="compute"/> gives the current row's probabilities.</summary>
    public Delegate Make(DataViewRow input, int iinfo, Func<(float[] Probabilities, float[][] Streams)> compute)
    {
        var cache = _caches.GetOrCreateValue(input);
        RowCache Current()
        {
            if (cache.Position != input.Position)
            {
                (cache.Probabilities, cache.Streams) = compute();
                cache.Position = input.Position;
            }
            return cache;
        }

        if (iinfo == 1)
        {
            ValueGetter<uint> predicted = (ref uint dst) => dst = (uint)ClassScores.ArgMax(Current().Probabilities) + 1;
            return predicted;
        }
        ValueGetter<VBuffer<float>> vector = (ref VBuffer<float> dst) =>
        {
            var row = Current();
            var values = iinfo == 0 ? row.Probabilities : row.Streams[iinfo - 2];
            var editor = VBufferEditor.Create(ref dst, values.Length);
            values.CopyTo(editor.Values);
            dst = editor.Commit();
        };
        return vector;
    }
}

/// <summary>Shapes of clip columns (N x C x T x H x W from SampleClips).</summary>
internal static class ClipColumns
{
    /// <summary>The column's dimensions [N, C, T, H, W]; a clear error for anything else.</summary>
    public static long[] Shape(DataViewSchema.Column column, int channels, string stream)
    {
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType n } vector || n.RawType != typeof(float))
            throw new ArgumentException($"column '{column.Name}' ({stream} clips) has type {column.Type}; expected a float vector from SampleClips");
        if (vector.Dimensions.Length != 5 || !vector.IsKnownSize)
            throw new ArgumentException($"column '{column.Name}' ({stream} clips) has shape ({string.Join(", ", vector.Dimensions)}); expected N x C x T x H x W clips of a fixed size from SampleClips (not WholeVideo)");
        if (vector.Dimensions[1] != channels)
            throw new ArgumentException($"column '{column.Name}' has {vector.Dimensions[1]} channels per frame; the {stream} stream takes {channels} ({VideoStreams.OfChannels(channels).Label()})");
        return [.. vector.Dimensions.Select(d => (long)d)];
    }

    /// <summary>Estimator-time check: <paramref name="column"/> exists and is a fixed-size float vector.</summary>
    public static void CheckSchemaShape(IExceptionContext host, SchemaShape inputSchema, string column)
    {
        if (!inputSchema.TryFindColumn(column, out var clip))
            throw host.ExceptSchemaMismatch(nameof(inputSchema), "clip", column);
        if (clip.Kind != SchemaShape.Column.VectorKind.Vector || clip.ItemType != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(inputSchema), "clip", column, "a fixed-size float vector from SampleClips", clip.GetTypeString());
    }

    public static long[] RowShape(long[] shape, int length, string stream, long row)
    {
        long expected = shape.Aggregate(1L, (a, b) => a * b);
        if (length != expected) throw new InvalidDataException($"row {row}: the {stream} clip has {length} values, the column promises {expected}");
        return shape;
    }
}
