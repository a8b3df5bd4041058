using System.Collections.Concurrent;
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
/// Training-mode randomness is a function of (seed, row position, how many times this transformer has served that
/// row, or the trainer's epoch in <see cref="ClipSamplingMode.Auto"/>): the same pipeline in a fresh process gives the
/// same clips, each pass over the data gets new crops, and two samplers with the same options over an RGB and a flow
/// column make identical choices.
/// </remarks>
public sealed class ClipSamplingTransformer : OptionsTransformerBase<ClipSamplerOptions>
{
    internal const string LoaderSignature = "I3DClipSampler";

    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("I3DCLIPS", LoaderSignature, typeof(ClipSamplingTransformer));

    private readonly ConcurrentDictionary<long, int> _visits = new();

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

    protected override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol)
    {
        if (inputSchema[srcCol].Type is not VideoDataViewType)
            throw Host.ExceptSchemaMismatch(nameof(inputSchema), "video", ColumnPairs[col].inputColumnName, "Video<Rgb24> or Video<Flow> (from LoadVideo or ExtractOpticalFlow)", inputSchema[srcCol].Type.ToString());
    }

    private protected override VersionInfo Version => GetVersionInfo();

    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>The output column type for an input of <paramref name="kind"/>.</summary>
    public VectorDataViewType OutputType(FrameElementKind kind)
    {
        int channels = kind == FrameElementKind.Rgb24 ? 3 : 2;
        return Options.WholeVideo
            ? new VectorDataViewType(NumberDataViewType.Single)
            : new VectorDataViewType(NumberDataViewType.Single, Options.ClipCount, channels, Options.Frames, Options.CropSize, Options.CropSize);
    }

    /// <summary>Samples the clips of one video into <paramref name="output"/> (resized as needed).</summary>
    public void Sample(VideoFrames frames, long rowPosition, ref VBuffer<float> output)
    {
        int? epoch = Options.Mode == ClipSamplingMode.Auto ? ClipSamplingScope.Epoch : null;
        bool training = Options.Mode == ClipSamplingMode.Train || epoch != null;
        var random = new Random(SeedFor(rowPosition, epoch));
        var plan = ClipPlan.Make(Options, frames.FrameCount, frames.Height, frames.Width, random, frames.Source, training);
        int length = plan.FrameIndices[0].Length;
        int size = checked(plan.FrameIndices.Length * frames.Channels * length * Options.CropSize * Options.CropSize);
        var editor = VBufferEditor.Create(ref output, size);
        plan.Write(frames, Options.CropSize, editor.Values);
        output = editor.Commit();
    }

    private int SeedFor(long rowPosition, int? epoch)
    {
        // Train mode: the n-th visit of a row draws anew; Auto inside the trainer: the epoch does (so a resumed run
        // in a new process draws what the interrupted one would have).
        int visit = epoch ?? (Options.Mode == ClipSamplingMode.Train ? _visits.AddOrUpdate(rowPosition, 0, (_, v) => v + 1) : 0);
        ulong x = SplitMix((ulong)(uint)Options.Seed ^ SplitMix((ulong)rowPosition ^ SplitMix((ulong)visit)));
        return (int)(x & 0x7FFFFFFF);
    }

    private static ulong SplitMix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

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
            => _owner.ColumnPairs.Select((c, i) => new DataViewSchema.DetachedColumn(c.outputColumnName, _owner.OutputType(_kinds[i]), null)).ToArray();

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getFrames = input.GetGetter<VideoFrames>(input.Schema[ColMapNewToOld[iinfo]]);
            var frames = new VideoFrames();
            var clip = default(VBuffer<float>);
            long sampledPosition = -1;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                // Sample once per row, however many consumers ask (each ask would otherwise be a new visit).
                if (sampledPosition != input.Position)
                {
                    getFrames(ref frames);
                    _owner.Sample(frames, input.Position, ref clip);
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
