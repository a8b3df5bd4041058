using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.Scoring;

/// <summary>
/// What a clip classifier's mapper needs to know about one stream: its name (rgb, flow), clip column, channels, and
/// what the column should hold (<c>Missing</c>, for the error when it is absent).
/// </summary>
internal sealed record ClipStream(string Name, string Column, int Channels, string Missing);

/// <summary>
/// The row mapper of a clip classifier (the TorchSharp I3D, the ONNX scorer): reads one clip column per stream
/// (N x C x T x H x W from SampleClips), asks the subclass for the joint logits, writes <c>Score</c> (softmax) and
/// <c>PredictedLabel</c> once per row.
/// </summary>
internal abstract class ClipClassifierMapper : RowToRowTransformerBase.MapperBase
{
    private readonly RowToRowTransformerBase _classifier;
    private readonly ClipStream[] _streams;
    private readonly int[] _inputColumns;
    private readonly long[][] _shapes;
    private readonly string _scoreColumnName, _predictedLabelColumnName;
    private readonly IReadOnlyList<string> _classes;
    private readonly ScoreGetters _scores = new();

    protected ClipClassifierMapper(IHost host, DataViewSchema inputSchema, RowToRowTransformerBase parent, IReadOnlyList<ClipStream> streams,
        string scoreColumnName, string predictedLabelColumnName, IReadOnlyList<string> classes)
        : base(host, inputSchema, parent)
    {
        _classifier = parent;
        _streams = [.. streams];
        _scoreColumnName = scoreColumnName;
        _predictedLabelColumnName = predictedLabelColumnName;
        _classes = classes;
        _inputColumns = new int[_streams.Length];
        _shapes = new long[_streams.Length][];
        for (int i = 0; i < _streams.Length; i++)
        {
            var s = _streams[i];
            var column = inputSchema.GetColumnOrNull(s.Column) ?? throw new ArgumentException($"the input has no column '{s.Column}' ({s.Missing})");
            _shapes[i] = ClipColumns.Shape(column, s.Channels, s.Name);
            _inputColumns[i] = column.Index;
        }
    }

    /// <summary>The clip shape [N, C, T, H, W] of stream <paramref name="stream"/>'s column.</summary>
    protected long[] ColumnShape(int stream) => _shapes[stream];

    /// <summary>Joint logits (summed over the streams, each averaged over its clips) of one row's clips, in stream order.</summary>
    protected abstract float[] JointLogits(IReadOnlyList<(float[] Data, long[] Shape)> clips, long row);

    protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
        => ClassScores.OutputColumns(_scoreColumnName, _predictedLabelColumnName, _classes);

    protected override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput)
        => col => (activeOutput(0) || activeOutput(1)) && _inputColumns.Contains(col);

    protected override void SaveModel(ModelSaveContext ctx) => ((ICanSaveModel)_classifier).Save(ctx);

    protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
    {
        disposer = null;
        var getters = _inputColumns.Select(c => input.GetGetter<VBuffer<float>>(input.Schema[c])).ToArray();
        var buffers = new VBuffer<float>[getters.Length];
        return _scores.Make(input, iinfo, () =>
        {
            var clips = new List<(float[], long[])>();
            for (int i = 0; i < getters.Length; i++)
            {
                getters[i](ref buffers[i]);
                var data = buffers[i].DenseValues().ToArray();
                clips.Add((data, ClipColumns.RowShape(_shapes[i], data.Length, _streams[i].Name, input.Position)));
            }
            return ClassScores.Softmax(JointLogits(clips, input.Position));
        });
    }
}
