using I3D.MLNet.ModelZip;
using I3D.MLNet.Onnx;
using I3D.MLNet.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(I3DOnnxScoringTransformer), null, typeof(SignatureLoadModel), "I3D ONNX Scoring Transformer", I3DOnnxScoringTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(I3DOnnxScoringTransformer), null, typeof(SignatureLoadRowMapper), "I3D ONNX Scoring Transformer", I3DOnnxScoringTransformer.LoaderSignature)]

namespace I3D.MLNet.Onnx;

/// <summary>Options of <c>mlContext.Transforms.ScoreI3D</c>: one or two ONNX streams (from <c>i3d export-onnx</c>) and where they run.</summary>
public sealed record I3DOnnxScorerOptions
{
    /// <summary>The RGB stream's ONNX file (or give <see cref="RgbModel"/>).</summary>
    public string? RgbModelPath { get; init; }

    /// <summary>The flow stream's ONNX file (or give <see cref="FlowModel"/>).</summary>
    public string? FlowModelPath { get; init; }

    /// <summary>The RGB stream's ONNX bytes (instead of <see cref="RgbModelPath"/>).</summary>
    public byte[]? RgbModel { get; init; }

    /// <summary>The flow stream's ONNX bytes (instead of <see cref="FlowModelPath"/>).</summary>
    public byte[]? FlowModel { get; init; }

    /// <summary>RGB clips N x 3 x T x H x W from SampleClips (the names <c>VideoClassification</c> uses by default).</summary>
    public string RgbColumnName { get; init; } = "RgbClip";

    /// <summary>Flow clips N x 2 x T x H x W from SampleClips.</summary>
    public string FlowColumnName { get; init; } = "FlowClip";

    /// <summary>A joined RGB + flow model's ONNX file (a 3D-Fused network's export; or give <see cref="RgbAndFlowModel"/>).</summary>
    public string? RgbAndFlowModelPath { get; init; }

    /// <summary>A joined RGB + flow model's ONNX bytes (instead of <see cref="RgbAndFlowModelPath"/>).</summary>
    public byte[]? RgbAndFlowModel { get; init; }

    /// <summary>Joined RGB and flow clips N x 5 x T x H x W from SampleClips over JoinRgbAndFlow.</summary>
    public string RgbAndFlowColumnName { get; init; } = "RgbAndFlowClip";

    /// <summary>The output column of class probabilities (softmax of the fused logits).</summary>
    public string ScoreColumnName { get; init; } = "Score";

    /// <summary>The output column of the most probable class (a key over the class names).</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";

    /// <summary>How sessions are made here; not saved in model zips (a loaded zip takes them from the loading MLContext's GPU settings).</summary>
    public OnnxSessionSettings Session { get; init; } = new();
}

/// <summary>
/// Scores clip columns with ONNX I3D streams (ONNX Runtime, one session per stream reused across rows): each stream's
/// logits are averaged over the row's N clips, the streams' logits are summed (the paper's two-stream fusion), and the
/// outputs are <c>Score</c> (softmax) and <c>PredictedLabel</c> (a key whose values are the class names from the
/// models' metadata), like the I3D trainer's, so <c>MulticlassClassification.Evaluate</c> works, and each stream's
/// logits before fusion (<c>RgbLogits</c>, <c>FlowLogits</c>). The ONNX bytes are saved inside the model zip.
/// </summary>
public sealed class I3DOnnxScoringTransformer : RowToRowTransformerBase, IVideoClassifier, IDisposable
{
    internal const string LoaderSignature = "I3DOnnxScorer";

    // Zip layout: the Description below as one JSON string, then per stream an entry Onnx_<stream> holding the ONNX
    // model's length (int32) and bytes. Versions: 0x00010001 also saved the OnnxSessionSettings (execution provider,
    // GPU, threads) in the Description; 0x00010002 does not (an old zip's are ignored): a loaded scorer runs on the CPU,
    // or on the GPU the loading MLContext names (MLContext.GpuDeviceId, as ML.NET's own OnnxTransformer does).
    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("I3DONNXS", LoaderSignature, typeof(I3DOnnxScoringTransformer), current: 0x00010002);

    /// <summary>What the zip stores besides the ONNX bytes: what the model is, not where it runs.</summary>
    internal sealed record Description(string ScoreColumnName, string PredictedLabelColumnName, StreamDescription[] Streams);

    internal sealed record StreamDescription(VideoStream Name, string Column);

    private readonly Description _info;
    private readonly (I3DOnnxModel Model, string Column)[] _streams;

    internal I3DOnnxScoringTransformer(IHostEnvironment env, I3DOnnxScorerOptions options)
        : this(Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DOnnxScoringTransformer)), options.ScoreColumnName, options.PredictedLabelColumnName, options.Session,
            Sources(options))
    {
    }

    private I3DOnnxScoringTransformer(IHost host, string score, string predicted, OnnxSessionSettings session, List<(VideoStream Stream, string Column, byte[] Bytes, string Source)> sources)
        : base(host)
    {
        if (sources.Count == 0) throw new ArgumentException("ScoreI3D needs an RGB model, a flow model or both");
        var streams = new List<(I3DOnnxModel, string)>();
        try
        {
            using var ch = Host.Start(nameof(I3DOnnxScoringTransformer));
            Action<string> log = session.ExecutionProvider == OnnxExecutionProvider.Cuda ? m => ch.Warning(m) : m => ch.Info(m);
            foreach (var (stream, column, bytes, source) in sources)
            {
                var model = I3DOnnxModel.Load(bytes, source, session, log);
                streams.Add((model, column));
                if (model.Stream != stream)
                    throw new ArgumentException($"{source}: given as the {stream.Name()} model but it is a {model.Stream.Name()} model ({model.InputDescription})");
                ch.Info($"{source}: {stream.Name()} stream, input {model.InputDescription}, {model.Classes.Count} classes, on {model.ExecutionProvider}");
            }
            I3DOnnxModel.CheckCanCombine([.. streams.Select(s => s.Item1)]);
        }
        catch
        {
            foreach (var (m, _) in streams) m.Dispose();
            throw;
        }
        _streams = [.. streams];
        _info = new Description(score, predicted, [.. streams.Select(s => new StreamDescription(s.Item1.Stream, s.Item2))]);
    }

    private static List<(VideoStream, string, byte[], string)> Sources(I3DOnnxScorerOptions o)
    {
        var result = new List<(VideoStream, string, byte[], string)>();
        foreach (var (stream, path, bytes, column) in new[] { (VideoStream.Rgb, o.RgbModelPath, o.RgbModel, o.RgbColumnName), (VideoStream.Flow, o.FlowModelPath, o.FlowModel, o.FlowColumnName), (VideoStream.RgbAndFlow, o.RgbAndFlowModelPath, o.RgbAndFlowModel, o.RgbAndFlowColumnName) })
        {
            if (path is not null && bytes is not null) throw new ArgumentException($"give the {stream.Name()} model as a path or as bytes, not both");
            if (path is not null)
            {
                if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such ONNX model", path);
                result.Add((stream, column, File.ReadAllBytes(path), path));
            }
            else if (bytes is not null) result.Add((stream, column, bytes, $"the {stream.Name()} ONNX model"));
        }
        return result;
    }

    /// <summary>Class names in class order (from the models' metadata).</summary>
    public IReadOnlyList<string> Classes => _streams[0].Model.Classes;

    /// <summary>The clip column each stream (rgb, flow) reads.</summary>
    public IReadOnlyDictionary<VideoStream, string> StreamColumns => _streams.ToDictionary(s => s.Model.Stream, s => s.Column);

    /// <summary>Where each stream runs (CPU or CUDA), after any fallback.</summary>
    public IReadOnlyDictionary<VideoStream, string> ExecutionProviders => _streams.ToDictionary(s => s.Model.Stream, s => s.Model.ExecutionProvider);

    /// <summary>One stream's logits (N, classes) for clips of <paramref name="shape"/> (N, C, T, H, W).</summary>
    public float[] StreamLogits(VideoStream stream, float[] clips, long[] shape)
    {
        var (model, column) = _streams.FirstOrDefault(s => s.Model.Stream == stream);
        if (model is null) throw new ArgumentException($"the scorer has no {stream.Name()} stream (it has {string.Join(", ", _streams.Select(s => s.Model.Stream.Name()))})");
        return model.Logits(clips, shape, $"the {stream.Name()} clips (column '{column}')");
    }

    private static I3DOnnxScoringTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        var info = ModelZipFormat.ReadOptions<Description>(ctx);
        if (info.Streams is not { Length: > 0 } || info.Streams.Any(s => !Enum.IsDefined(s.Name) || string.IsNullOrEmpty(s.Column)))
            throw new InvalidDataException("the model zip's ONNX scorer describes no valid streams (rgb, flow), each with its clip column");
        var sources = new List<(VideoStream, string, byte[], string)>();
        foreach (var s in info.Streams)
        {
            byte[]? bytes = null;
            string entry = EntryName(s.Name);
            if (!ModelZipFormat.Read(ctx, $"ONNX model of the {s.Name.Name()} stream", () => ctx.TryLoadBinaryStream(entry, r => bytes = ModelZipFormat.ReadBlock(r)), entry))
                throw new InvalidDataException($"the model zip has no ONNX model for the {s.Name.Name()} stream (entry {ModelZipFormat.EntryName(ctx, entry)})");
            sources.Add((s.Name, s.Column, bytes!, $"the {s.Name.Name()} ONNX model in the model zip (entry {ModelZipFormat.EntryName(ctx, entry)})"));
        }
        return new I3DOnnxScoringTransformer(env.Register(nameof(I3DOnnxScoringTransformer)), info.ScoreColumnName, info.PredictedLabelColumnName, SessionAtLoad(env), sources);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <summary>Where a loaded scorer runs: the CPU (the options' default), or CUDA on the loading MLContext's
    /// <c>GpuDeviceId</c> (falling back to the CPU with a warning where there is none, as <see cref="OnnxExecutionProvider.Cuda"/> does).</summary>
    private static OnnxSessionSettings SessionAtLoad(IHostEnvironment env)
        => env is IHostEnvironmentInternal { GpuDeviceId: int gpu } ? new OnnxSessionSettings { ExecutionProvider = OnnxExecutionProvider.Cuda, GpuDeviceId = gpu } : new OnnxSessionSettings();

    private static string EntryName(VideoStream stream) => $"Onnx_{stream.Name()}";

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ModelZipFormat.WriteOptions(ctx, _info);
        foreach (var (model, _) in _streams)
            ctx.SaveBinaryStream(EntryName(model.Stream), w =>
            {
                w.Write(model.Bytes.Length);
                w.Write(model.Bytes);
            });
    }

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <inheritdoc/>
    public void Dispose() => _lifetime.Dispose(() =>
    {
        foreach (var (m, _) in _streams) m.Dispose();
    });

    private readonly ModelLifetime _lifetime = new("the I3D ONNX scorer");

    private sealed class Mapper : ClipClassifierMapper
    {
        private readonly I3DOnnxScoringTransformer _owner;

        public Mapper(I3DOnnxScoringTransformer owner, DataViewSchema inputSchema)
            : base(owner.Host.Register(nameof(Mapper)), inputSchema, owner,
                [.. owner._streams.Select(s => new ClipStream(s.Model.Stream, s.Column, s.Model.Channels, $"the {s.Model.Stream.Name()} clips for {s.Model.Source}"))],
                owner._info.ScoreColumnName, owner._info.PredictedLabelColumnName, owner.Classes)
        {
            _owner = owner;
            for (int i = 0; i < owner._streams.Length; i++)
                owner._streams[i].Model.CheckClipShape(ColumnShape(i), $"the {owner._streams[i].Model.Stream.Name()} clips of column '{owner._streams[i].Column}'");
        }

        protected override float[] StreamLogits(int stream, float[] clips, long[] shape, long row)
        {
            var (model, column) = _owner._streams[stream];
            return _owner._lifetime.Use(() => model.Logits(clips, shape, $"row {row}: the {model.Stream.Name()} clips of column '{column}'"));
        }
    }
}

/// <summary>Estimator for <see cref="I3DOnnxScoringTransformer"/> (<c>mlContext.Transforms.ScoreI3D</c>); nothing to learn.</summary>
public sealed class I3DOnnxScoringEstimator : TrivialEstimator<I3DOnnxScoringTransformer>
{
    private readonly I3DOnnxScorerOptions _options;

    internal I3DOnnxScoringEstimator(IHostEnvironment env, I3DOnnxScorerOptions options)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DOnnxScoringEstimator)), new I3DOnnxScoringTransformer(env, options))
    {
        _options = options;
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        foreach (var column in Transformer.StreamColumns.Values) ClipColumns.CheckSchemaShape(Host, inputSchema, column);
        return ClassScores.OutputShape(inputSchema, _options.ScoreColumnName, _options.PredictedLabelColumnName, NumberDataViewType.UInt32, Transformer.StreamColumns.Keys);
    }
}
