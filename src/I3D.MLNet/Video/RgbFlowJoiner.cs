using I3D.MLNet.ModelZip;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(RgbFlowJoiningTransformer), null, typeof(SignatureLoadModel), "RGB and Flow Joining Transformer", RgbFlowJoiningTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(RgbFlowJoiningTransformer), null, typeof(SignatureLoadRowMapper), "RGB and Flow Joining Transformer", RgbFlowJoiningTransformer.LoaderSignature)]

namespace I3D.MLNet.Video;

/// <summary>
/// Joins an RGB video column (from <c>LoadVideo</c>) and its optical flow column (from <c>ExtractOpticalFlow</c>) into
/// one video of five channels per pixel, R, G, B in [-1, 1] (x / 127.5 - 1) then flow x, y: the input of the paper's
/// 3D-Fused Two-Stream network (section 2.3), which sees both streams at once. <c>SampleClips</c> of the joined column
/// gives RGB and flow clips of the same frames, crop and flip by construction (a flip negates flow x, channel 3).
/// </summary>
public sealed class RgbFlowJoiningTransformer : RowToRowTransformerBase
{
    internal const string LoaderSignature = "RgbFlowJoiner";

    // Zip layout: the three column names (output, RGB input, flow input) as strings. Versions: 0x00010001 (first).
    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("RGBFLOWJ", LoaderSignature, typeof(RgbFlowJoiningTransformer));

    internal RgbFlowJoiningTransformer(IHostEnvironment env, string outputColumnName, string framesColumnName, string flowColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(RgbFlowJoiningTransformer)))
    {
        OutputColumnName = outputColumnName;
        FramesColumnName = framesColumnName;
        FlowColumnName = flowColumnName;
    }

    /// <summary>The joined video column.</summary>
    public string OutputColumnName { get; }

    /// <summary>The RGB video column.</summary>
    public string FramesColumnName { get; }

    /// <summary>The optical flow video column.</summary>
    public string FlowColumnName { get; }

    private static RgbFlowJoiningTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        string output = ctx.Reader.ReadString(), frames = ctx.Reader.ReadString(), flow = ctx.Reader.ReadString();
        if (new[] { output, frames, flow }.Any(string.IsNullOrEmpty))
            throw new InvalidDataException("the model zip's RGB and flow joiner names no columns");
        return new RgbFlowJoiningTransformer(env, output, frames, flow);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.Writer.Write(OutputColumnName);
        ctx.Writer.Write(FramesColumnName);
        ctx.Writer.Write(FlowColumnName);
    }

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>Joins one row's frames and flow into <paramref name="joined"/> (reused across rows).</summary>
    public static void Join(VideoFrames rgb, VideoFrames flow, VideoFrames joined)
    {
        if (rgb.Kind != FrameElementKind.Rgb24) throw new ArgumentException($"{rgb.Source}: joining needs RGB frames, got {rgb.Kind}");
        if (flow.Kind != FrameElementKind.Flow) throw new ArgumentException($"{flow.Source}: joining needs optical flow frames, got {flow.Kind}");
        if (rgb.FrameCount != flow.FrameCount || rgb.Height != flow.Height || rgb.Width != flow.Width)
            throw new InvalidDataException($"{rgb.Source}: {rgb.FrameCount}x{rgb.Height}x{rgb.Width} frames and {flow.FrameCount}x{flow.Height}x{flow.Width} flow cannot be joined (the flow of other frames?)");
        joined.Reset(FrameElementKind.RgbAndFlow, rgb.FrameCount, rgb.Height, rgb.Width);
        joined.FramesPerSecond = rgb.FramesPerSecond;
        joined.Source = rgb.Source;
        var bytes = rgb.Bytes;
        var xy = flow.Floats;
        var output = joined.Floats;
        int pixels = rgb.FrameCount * rgb.Height * rgb.Width; // the joined buffer (5 values a pixel) fits one array: Reset checked
        for (int p = 0; p < pixels; p++)
        {
            for (int c = 0; c < 3; c++) output[p * 5 + c] = bytes[p * 3 + c] * (1f / 127.5f) - 1f;
            output[p * 5 + 3] = xy[p * 2];
            output[p * 5 + 4] = xy[p * 2 + 1];
        }
    }

    private sealed class Mapper : MapperBase
    {
        private readonly RgbFlowJoiningTransformer _owner;
        private readonly int _frames, _flow;

        public Mapper(RgbFlowJoiningTransformer owner, DataViewSchema inputSchema)
            : base(owner.Host.Register(nameof(Mapper)), inputSchema, owner)
        {
            _owner = owner;
            _frames = Column(inputSchema, owner.FramesColumnName, VideoDataViewType.Rgb, "RGB frames from LoadVideo");
            _flow = Column(inputSchema, owner.FlowColumnName, VideoDataViewType.Flow, "optical flow from ExtractOpticalFlow");
        }

        private static int Column(DataViewSchema schema, string name, VideoDataViewType type, string what)
        {
            var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException($"the input has no column '{name}' ({what})");
            if (!column.Type.Equals(type)) throw new ArgumentException($"column '{name}' has type {column.Type}; expected {type} ({what})");
            return column.Index;
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
            => [new DataViewSchema.DetachedColumn(_owner.OutputColumnName, VideoDataViewType.RgbAndFlow)];

        protected override Func<int, bool> GetDependenciesCore(Func<int, bool> activeOutput)
            => col => activeOutput(0) && (col == _frames || col == _flow);

        protected override void SaveModel(ModelSaveContext ctx) => ((ICanSaveModel)_owner).Save(ctx);

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getFrames = input.GetGetter<VideoFrames>(input.Schema[_frames]);
            var getFlow = input.GetGetter<VideoFrames>(input.Schema[_flow]);
            VideoFrames frames = VideoFrames.ForReading(), flow = VideoFrames.ForReading();
            ValueGetter<VideoFrames> getter = (ref VideoFrames joined) =>
            {
                getFrames(ref frames);
                getFlow(ref flow);
                joined ??= new VideoFrames();
                Join(frames, flow, joined);
            };
            return getter;
        }
    }
}

/// <summary>Estimator of <see cref="RgbFlowJoiningTransformer"/> (<c>mlContext.Transforms.JoinRgbAndFlow</c>); nothing to learn.</summary>
public sealed class RgbFlowJoiningEstimator : TrivialEstimator<RgbFlowJoiningTransformer>
{
    internal RgbFlowJoiningEstimator(IHostEnvironment env, string outputColumnName, string framesColumnName, string flowColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(RgbFlowJoiningEstimator)), new RgbFlowJoiningTransformer(env, outputColumnName, framesColumnName, flowColumnName))
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        foreach (var (name, what) in new[] { (Transformer.FramesColumnName, "RGB frames"), (Transformer.FlowColumnName, "optical flow") })
            if (!inputSchema.TryFindColumn(name, out var column) || column.ItemType is not VideoDataViewType)
                throw Host.ExceptSchemaMismatch(nameof(inputSchema), what, name);
        var result = inputSchema.ToDictionary(c => c.Name);
        result[Transformer.OutputColumnName] = new SchemaShape.Column(Transformer.OutputColumnName, SchemaShape.Column.VectorKind.Scalar, VideoDataViewType.RgbAndFlow, false);
        return new SchemaShape(result.Values);
    }
}
