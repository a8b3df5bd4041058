using I3D.MLNet.Clips;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(ClipSamplingTransformer), null, typeof(SignatureLoadModel), "Clip Sampling Transformer", ClipSamplingTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(ClipSamplingTransformer), null, typeof(SignatureLoadRowMapper), "Clip Sampling Transformer", ClipSamplingTransformer.LoaderSignature)]

namespace I3D.MLNet.Clips;

/// <summary>
/// Samples fixed-size clips from a video column (RGB or flow) as the paper does, into a float32 vector column laid out
/// N x C x T x H x W (N clips; C = 3 for RGB, 2 for flow): the layout TorchSharp's Conv3d and our ONNX models take.
/// RGB values are mapped to [-1, 1]; flow values are already there.
/// </summary>
/// <remarks>
/// Training-mode randomness is a pure function of (seed, row id, epoch): whatever order or how often the rows are
/// read, and in a fresh process, a row gets the same clips; two samplers with the same options over an RGB and a flow
/// column make identical choices. The epoch is <see cref="ClipSamplerOptions.Epoch"/>, or the I3D trainer's own: the
/// output column carries the sampler's options and input column as an annotation (<see cref="ClipSamplingAnnotation"/>),
/// so the trainer samples each epoch's training clips from the frames itself (data flows one way; no state is shared).
/// </remarks>
public sealed class ClipSamplingTransformer : OptionsTransformerBase<ClipSamplerOptions>
{
    internal const string LoaderSignature = "I3DClipSampler";

    // Zip layout (OptionsTransformerBase): the column pairs, then ClipSamplerOptions as one JSON string; checked on load.
    // Versions: 0x00010001 (first; Epoch, added later, reads back as 0 from older zips).
    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("I3DCLIPS", LoaderSignature, typeof(ClipSamplingTransformer));

    internal ClipSamplingTransformer(IHostEnvironment env, ClipSamplerOptions options, params (string outputColumnName, string inputColumnName)[] columns)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(ClipSamplingTransformer)), options, columns)
    {
        options.Validate();
    }

    private ClipSamplingTransformer(IHost host, ModelLoadContext ctx)
        : base(host, ctx)
    {
        Options.Validate();
    }

    private static ClipSamplingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        return new ClipSamplingTransformer(env.Register(nameof(ClipSamplingTransformer)), ctx);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <inheritdoc/>
    protected override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol)
    {
        if (inputSchema[srcCol].Type is not VideoDataViewType)
            throw Host.ExceptSchemaMismatch(nameof(inputSchema), "video", ColumnPairs[col].inputColumnName, "Video<Rgb24> or Video<Flow> (from LoadVideo or ExtractOpticalFlow)", inputSchema[srcCol].Type.ToString());
    }

    private protected override VersionInfo Version => GetVersionInfo();

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>The output column type for an input of <paramref name="kind"/>.</summary>
    public VectorDataViewType OutputType(FrameElementKind kind)
    {
        int channels = VideoFrames.ChannelsOf(kind);
        return Options.WholeVideo
            ? new VectorDataViewType(NumberDataViewType.Single)
            : new VectorDataViewType(NumberDataViewType.Single, Options.ClipCount, channels, Options.Frames, Options.CropSize, Options.CropSize);
    }

    /// <summary>Samples the clips of one video (row <paramref name="row"/>) into <paramref name="output"/> (resized as
    /// needed) by the mode's protocol: Test and Auto the test protocol, Train the training one at <see cref="ClipSamplerOptions.Epoch"/>.</summary>
    public void Sample(VideoFrames frames, DataViewRowId row, ref VBuffer<float> output)
        => ClipSampling.Sample(Options, frames, row, Options.Mode == ClipSamplingMode.Train, Options.Epoch, ref output);

    private sealed class Mapper : OneToOneMapperBase
    {
        private readonly ClipSamplingTransformer _owner;
        private readonly FrameElementKind[] _kinds;

        public Mapper(ClipSamplingTransformer owner, DataViewSchema inputSchema)
            : base(owner.Host.Register(nameof(Mapper)), owner, inputSchema)
        {
            _owner = owner;
            _kinds = owner.ColumnPairs.Select(c => ((VideoDataViewType)inputSchema[c.inputColumnName].Type).Kind).ToArray();
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
            => _owner.ColumnPairs.Select((c, i) => new DataViewSchema.DetachedColumn(c.outputColumnName, _owner.OutputType(_kinds[i]),
                new ClipSamplingAnnotation(c.inputColumnName, _owner.Options).ToAnnotations())).ToArray();

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getFrames = input.GetGetter<VideoFrames>(input.Schema[ColMapNewToOld[iinfo]]);
            var getId = input.GetIdGetter();
            var frames = VideoFrames.ForReading();
            var clip = default(VBuffer<float>);
            DataViewRowId id = default;
            long sampledPosition = -1;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                // Sample once per row, however many consumers ask.
                if (sampledPosition != input.Position)
                {
                    getFrames(ref frames);
                    getId(ref id);
                    _owner.Sample(frames, id, ref clip);
                    sampledPosition = input.Position;
                }
                clip.CopyTo(ref dst);
            };
            return getter;
        }
    }
}

/// <summary>Estimator for <see cref="ClipSamplingTransformer"/> (<c>mlContext.Transforms.SampleClips</c>); nothing to learn.</summary>
public sealed class ClipSamplingEstimator : TrivialEstimator<ClipSamplingTransformer>
{
    internal ClipSamplingEstimator(IHostEnvironment env, ClipSamplerOptions options, params (string outputColumnName, string inputColumnName)[] columns)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(ClipSamplingEstimator)), new ClipSamplingTransformer(env, options, columns))
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
        => ColumnSchema.Map(Host, inputSchema, Transformer.Columns, "video", "Video<Rgb24> or Video<Flow> (from LoadVideo or ExtractOpticalFlow)",
            col => col.ItemType is VideoDataViewType,
            (name, col) =>
            {
                var type = Transformer.OutputType(((VideoDataViewType)col.ItemType).Kind);
                return new SchemaShape.Column(name, type.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector,
                    NumberDataViewType.Single, false);
            });
}
