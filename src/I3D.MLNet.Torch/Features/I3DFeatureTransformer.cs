using I3D.MLNet.ModelZip;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Features;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(I3DFeatureTransformer), null, typeof(SignatureLoadModel), "I3D Feature Transformer", I3DFeatureTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(I3DFeatureTransformer), null, typeof(SignatureLoadRowMapper), "I3D Feature Transformer", I3DFeatureTransformer.LoaderSignature)]

namespace I3D.MLNet.Torch.Features;

/// <summary>
/// I3D features of a clip column (N x C x T x H x W from SampleClips) as a fixed-size float vector column that any
/// ML.NET trainer takes: one InceptionI3d stream's endpoint (by default the 1024-d pooled features before the logits),
/// averaged over time and space, then over the row's clips (or per clip: N x dimensions). The network's weights live
/// inside the model zip. Made by <c>mlContext.Transforms.ExtractI3DFeatures</c>; the per-row work is
/// <see cref="I3DFeatureNetwork.Extract"/>.
/// </summary>
public sealed class I3DFeatureTransformer : OptionsTransformerBase<I3DFeatureDescription>, IDisposable
{
    internal const string LoaderSignature = "I3DFeatureTransform";

    // Zip layout (OptionsTransformerBase): the column pair, then I3DFeatureDescription as one JSON string (stream, input
    // channels, classes, endpoint, per clip), then the entry Network with the InceptionI3d weights (TorchSharp Module.save).
    // Nothing of the machine: a loaded extractor runs on CUDA when TorchSharp sees one, else the CPU ("auto").
    // Versions: 0x00010001 (first). Loading checks the description and refuses weights of another shape.
    private static VersionInfo GetVersionInfo() => ModelZipFormat.Version("I3DFEATS", LoaderSignature, typeof(I3DFeatureTransformer));

    private const string NetworkEntry = "Network";

    private readonly I3DFeatureNetwork _network;

    internal I3DFeatureTransformer(IHostEnvironment env, I3DFeatureNetwork network, bool perClip, string outputColumnName, string inputColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DFeatureTransformer)),
            new I3DFeatureDescription(network.Stream, network.InChannels, network.NumClasses, network.Endpoint, perClip), [(outputColumnName, inputColumnName)])
    {
        _network = network;
    }

    private I3DFeatureTransformer(IHost host, ModelLoadContext ctx)
        : base(host, ctx)
    {
        var d = Options;
        if (ColumnPairs.Length != 1 || !Enum.IsDefined(d.Stream) || d.InChannels != d.Stream.Channels() || d.NumClasses is < 1 or > 1_000_000 || string.IsNullOrEmpty(d.Endpoint))
            throw new InvalidDataException($"the model zip's I3D feature extractor has an invalid description ({ModelZipFormat.ToJson(d)})");
        var device = TorchDevices.Resolve("auto");
        var network = new InceptionI3d(d.NumClasses, d.InChannels);
        try
        {
            string source = $"the model zip's I3D feature network (entry {ModelZipFormat.EntryName(ctx, NetworkEntry)})";
            if (!ModelZipFormat.Read(ctx, "weights of the I3D feature network", () => ctx.TryLoadBinaryStream(NetworkEntry, r => TorchSharpWeights.Load(network, r, source)), NetworkEntry))
                throw new InvalidDataException($"the model zip has no weights for the I3D feature network (entry {ModelZipFormat.EntryName(ctx, NetworkEntry)})");
            _network = new I3DFeatureNetwork(d.Stream, network, d.Endpoint, device);
        }
        catch (ArgumentException e)
        {
            network.Dispose();
            throw new InvalidDataException($"the model zip's I3D feature extractor: {e.Message}", e);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static I3DFeatureTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        return new I3DFeatureTransformer(env.Register(nameof(I3DFeatureTransformer)), ctx);
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <summary>Builds the transformer of <paramref name="options"/>: the network of its weight file or model.</summary>
    internal static I3DFeatureTransformer Create(IHostEnvironment env, I3DFeatureExtractorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if ((options.WeightsPath is null) == (options.Model is null))
            throw new ArgumentException("ExtractI3DFeatures takes one network: I3DFeatureExtractorOptions.WeightsPath (an InceptionI3d weight file) or Model (a fitted I3D classifier), not "
                + (options.Model is null ? "neither" : "both"));
        if (string.IsNullOrEmpty(options.InputColumnName) || string.IsNullOrEmpty(options.OutputColumnName))
            throw new ArgumentException("ExtractI3DFeatures needs an input (clip) and an output column name");
        var network = options.WeightsPath is { } path
            ? I3DFeatureNetwork.FromWeights(path, options.Stream, options.Endpoint, options.Device)
            : I3DFeatureNetwork.FromModel(options.Model!, options.Stream, options.Endpoint, options.Device);
        try { return new I3DFeatureTransformer(env, network, options.PerClip, options.OutputColumnName, options.InputColumnName); }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The network (stream, endpoint, dimensions) and the per-clip computation.</summary>
    public I3DFeatureNetwork Network => _network;

    /// <summary>The output column type for clips of shape [N, C, T, H, W]: dimensions, or N x dimensions per clip.</summary>
    public VectorDataViewType OutputType(long[] clipShape)
        => Options.PerClip ? new VectorDataViewType(NumberDataViewType.Single, (int)clipShape[0], _network.Dimensions) : new VectorDataViewType(NumberDataViewType.Single, _network.Dimensions);

    /// <inheritdoc/>
    protected override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol) => InputShape(inputSchema[srcCol]);

    private long[] InputShape(DataViewSchema.Column column)
    {
        try { return ClipColumns.Shape(column, _network.InChannels, _network.Stream.Name()); }
        catch (ArgumentException e) { throw Host.ExceptSchemaMismatch(nameof(column), "clip", column.Name, "N x C x T x H x W float clips from SampleClips", $"{column.Type}: {e.Message}"); }
    }

    private protected override VersionInfo Version => GetVersionInfo();

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        base.SaveModel(ctx);
        ctx.SaveBinaryStream(NetworkEntry, _network.Save);
    }

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <inheritdoc/>
    public void Dispose() => _network.Dispose();

    private sealed class Mapper : OneToOneMapperBase
    {
        private readonly I3DFeatureTransformer _owner;
        private readonly long[] _shape;

        public Mapper(I3DFeatureTransformer owner, DataViewSchema inputSchema)
            : base(owner.Host.Register(nameof(Mapper)), owner, inputSchema)
        {
            _owner = owner;
            _shape = owner.InputShape(inputSchema[ColMapNewToOld[0]]);
        }

        protected override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
            => [new DataViewSchema.DetachedColumn(_owner.ColumnPairs[0].outputColumnName, _owner.OutputType(_shape))];

        protected override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getClips = input.GetGetter<VBuffer<float>>(input.Schema[ColMapNewToOld[iinfo]]);
            var clips = default(VBuffer<float>);
            float[] features = [];
            long computedPosition = -1;
            string stream = _owner._network.Stream.Name();
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                // Once per row, however many consumers ask.
                if (computedPosition != input.Position)
                {
                    getClips(ref clips);
                    var data = clips.DenseValues().ToArray();
                    features = _owner._network.Extract(data, ClipColumns.RowShape(_shape, data.Length, stream, input.Position), _owner.Options.PerClip);
                    computedPosition = input.Position;
                }
                var editor = VBufferEditor.Create(ref dst, features.Length);
                features.CopyTo(editor.Values);
                dst = editor.Commit();
            };
            return getter;
        }
    }
}
