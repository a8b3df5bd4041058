using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.Scoring;

/// <summary>
/// What a clip classifier's mapper needs to know about one stream: which it is, its clip column, channels, and
/// what the column should hold (<c>Missing</c>, for the error when it is absent).
/// </summary>
internal sealed record ClipStream(VideoStream Stream, string Column, int Channels, string Missing)
{
    public string Name => Stream.Name();
}

/// <summary>
/// The row mapper of a clip classifier (the TorchSharp I3D, the ONNX scorer): reads one clip column per stream
/// (N x C x T x H x W from SampleClips), asks the subclass for each stream's logits, fuses them (<see cref="StreamFusion"/>)
/// and writes <c>Score</c> (softmax), <c>PredictedLabel</c> and each stream's logits (<c>RgbLogits</c>, <c>FlowLogits</c>),
/// computed once per row however many of them are read.
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

    /// <summary>Stream <paramref name="stream"/>'s logits of one row's clips (N x C x T x H x W), averaged over the clips.</summary>
    protected abstract float[] StreamLogits(int stream, float[] clips, long[] shape, long row);

    protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
        => [.. ClassScores.OutputColumns(_scoreColumnName, _predictedLabelColumnName, _classes),
            .. _streams.Select(s => ClassScores.LogitsColumn(StreamFusion.LogitsColumnName(s.Stream), _classes))];

    protected override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput)
        => col => Enumerable.Range(0, 2 + _streams.Length).Any(activeOutput) && _inputColumns.Contains(col);

    protected override void SaveModel(ModelSaveContext ctx) => ((ICanSaveModel)_classifier).Save(ctx);

    protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
    {
        disposer = null;
        var getters = _inputColumns.Select(c => input.GetGetter<VBuffer<float>>(input.Schema[c])).ToArray();
        var buffers = new VBuffer<float>[getters.Length];
        return _scores.Make(input, iinfo, () =>
        {
            var streams = new float[getters.Length][];
            for (int i = 0; i < getters.Length; i++)
            {
                getters[i](ref buffers[i]);
                var data = buffers[i].DenseValues().ToArray();
                streams[i] = StreamLogits(i, data, ClipColumns.RowShape(_shapes[i], data.Length, _streams[i].Name, input.Position), input.Position);
            }
            return (ClassScores.Softmax(StreamFusion.Sum(streams)), streams);
        });
    }
}
