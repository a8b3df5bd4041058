using I3D.MLNet.ModelZip;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(I3DPredictionTransformer), null, typeof(SignatureLoadModel), "I3D Prediction Transformer", I3DPredictionTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(I3DPredictionTransformer), null, typeof(SignatureLoadRowMapper), "I3D Prediction Transformer", I3DPredictionTransformer.LoaderSignature)]

namespace I3D.MLNet.Torch.Training;

/// <summary>
/// A fitted two-stream I3D classifier. For each row it runs each stream on its clip column (N clips, averaged: the
/// paper's test protocol averages predictions over the video), fuses the streams (<see cref="StreamFusion"/>: their logits
/// summed, as kinetics-i3d's evaluate_sample) and writes <c>Score</c> (softmax probabilities, one per class) and
/// <c>PredictedLabel</c> (a key of the training label's type), as ML.NET's multiclass trainers do, so
/// <c>MulticlassClassification.Evaluate</c> works, and each stream's logits before fusion (<c>RgbLogits</c>, <c>FlowLogits</c>).
/// The networks' weights live inside the model zip.
/// </summary>
public sealed class I3DPredictionTransformer : RowToRowTransformerBase, IVideoClassifier, IDisposable
{
    internal const string LoaderSignature = "I3DPredictionTransform";

    // Zip layout: the Description below as one JSON string (columns, class names, each stream's name, clip column,
    // architecture name (VideoBackbone.Name: InceptionI3d, ResNet18, ...), input channels and, for a network whose layers
    // are sized for its crop (C3D), that crop), then per stream an entry Stream_<name> with its weights (TorchSharp Module.save).
    // Nothing of the machine: a loaded classifier runs on CUDA when TorchSharp sees one, else the CPU ("auto").
    // Versions: 0x00010001 (first: InceptionI3d and ResNet18 streams); 0x00010002 (any architecture of VideoBackbones,
    // the same layout: a release before it refuses these zips by their version instead of failing on an unknown name);
    // 0x00010003 (a stream's CropSize, null but for C3D: absent in older zips, read as Table 1's 112).
    // Loading checks the description, names an unknown architecture, and refuses weights of another shape.
    private const uint StreamCropSizes = 0x00010003;

    private static VersionInfo GetVersionInfo()
        => ModelZipFormat.Version("I3DPREDT", LoaderSignature, typeof(I3DPredictionTransformer), current: StreamCropSizes, oldestReadable: ModelZipFormat.Version1);

    private readonly StreamNetwork[] _streams;
    private readonly object _forwardLock = new();
    private readonly ModelLifetime _lifetime = new("the I3D classifier (TorchSharp)");

    /// <summary>What the zip stores besides the weights.</summary>
    internal sealed record Description(string ScoreColumnName, string PredictedLabelColumnName, string[] Classes, StreamDescription[] Streams)
    {
        /// <summary>The description of a classifier made of <paramref name="streams"/> (the trainer's, or ScoreI3D's on weight files).</summary>
        public static Description Of(string scoreColumnName, string predictedLabelColumnName, string[] classes, IEnumerable<StreamNetwork> streams)
            => new(scoreColumnName, predictedLabelColumnName, classes, [.. streams.Select(s => new StreamDescription(s.Stream, s.Column, s.Backbone.Name, s.InChannels, s.Backbone.CropSizeOf(s.Module)))]);
    }

    /// <summary>One stream: its name, clip column, architecture (<see cref="VideoBackbone.Name"/>), input channels and the
    /// crop its layers are sized for (<see cref="VideoBackbone.CropSizeOf"/>; null: any, or Table 1's).</summary>
    internal sealed record StreamDescription(VideoStream Name, string Column, string Backbone, int InChannels, int? CropSize = null);

    internal Description Info { get; }

    /// <summary>Class names in class order.</summary>
    public IReadOnlyList<string> Classes => Info.Classes;

    /// <summary>The streams (rgb, flow) the classifier has.</summary>
    public IReadOnlyList<VideoStream> Streams => [.. _streams.Select(s => s.Stream)];

    internal IReadOnlyList<StreamNetwork> StreamNetworks => _streams;

    internal I3DPredictionTransformer(IHostEnvironment env, Description info, StreamNetwork[] streams)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DPredictionTransformer)))
    {
        Info = info;
        _streams = streams;
        foreach (var s in _streams) s.Module.eval();
    }

    private static I3DPredictionTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        var info = ModelZipFormat.ReadOptions<Description>(ctx);
        if (info.Classes is not { Length: > 1 } || info.Streams is not { Length: > 0 }
            || info.Streams.Any(s => !Enum.IsDefined(s.Name) || string.IsNullOrEmpty(s.Column) || s.InChannels is < 1 or > 64 || s.CropSize is < 1 or > 4096))
            throw new InvalidDataException("the model zip's I3D classifier has an invalid description (classes, streams, backbones or channels)");
        var streams = new List<StreamNetwork>();
        foreach (var s in info.Streams)
        {
            var backbone = VideoBackbones.FromFile(s.Backbone, $"the model zip's {s.Name.Name()} stream");
            var stream = new StreamNetwork(s.Name, s.Column, backbone, info.Classes.Length, s.InChannels, backbone.Build(info.Classes.Length, s.InChannels, s.CropSize));
            string entry = EntryName(s.Name), source = $"the model zip's weights of the {s.Name.Name()} stream (entry {ModelZipFormat.EntryName(ctx, entry)})";
            if (!ModelZipFormat.Read(ctx, $"weights of the {s.Name.Name()} stream", () => ctx.TryLoadBinaryStream(entry, r => stream.Load(r, source)), entry))
                throw new InvalidDataException($"the model zip has no weights for the {s.Name.Name()} stream (entry {ModelZipFormat.EntryName(ctx, entry)})");
            streams.Add(stream);
        }
        var transformer = new I3DPredictionTransformer(env, info, [.. streams]);
        transformer.MoveTo(TorchDevices.Resolve("auto"));
        return transformer;
    }

    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeRowMapper(inputSchema);

    /// <inheritdoc/>
    protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ModelZipFormat.WriteOptions(ctx, Info);
        foreach (var s in _streams)
        {
            var device = s.Module.parameters().First().device;
            if (device.type != DeviceType.CPU) s.MoveTo(CPU);
            ctx.SaveBinaryStream(EntryName(s.Stream), s.Save);
            if (device.type != DeviceType.CPU) s.MoveTo(device);
        }
    }

    private static string EntryName(VideoStream stream) => $"Stream_{stream.Name()}";

    internal void MoveTo(Device device)
    {
        foreach (var s in _streams) s.MoveTo(device);
    }

    /// <summary>
    /// Scores every stream with <paramref name="precision"/> from now on (<see cref="ScoringPrecision.BFloat16"/>: a
    /// bfloat16 copy of the weights beside the float32 ones, which are what training and <c>Save</c> use). A setting of
    /// the machine, like the device: not saved, so a loaded zip scores in float32 until told otherwise.
    /// </summary>
    public I3DPredictionTransformer UsePrecision(ScoringPrecision precision)
    {
        _lifetime.Use(() =>
        {
            lock (_forwardLock)
                foreach (var s in _streams) s.SetPrecision(precision);
            return 0;
        });
        return this;
    }

    /// <summary>The arithmetic the streams score with (<see cref="UsePrecision"/>).</summary>
    public ScoringPrecision Precision => _streams[0].Precision;

    /// <inheritdoc/>
    protected override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    /// <summary>One stream's logits for one row's clips (N x C x T x H x W), averaged over the clips (the paper's test protocol).</summary>
    private float[] Logits(StreamNetwork stream, float[] clips, long[] shape)
    {
        return _lifetime.Use(() =>
        {
            lock (_forwardLock)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var device = stream.Module.parameters().First().device;
                var x = tensor(clips, shape).to(device);
                return stream.ScoringLogits(x).mean([0]).cpu().data<float>().ToArray();
            }
        });
    }

    /// <summary>One stream's logits for one row's clips (N x C x T x H x W), averaged over the clips.</summary>
    public float[] StreamLogits(VideoStream stream, float[] clips, long[] shape) => Logits(Network(stream), clips, shape);

    /// <summary>
    /// Writes <paramref name="stream"/>'s network weights (parameters and BatchNorm statistics, its classifier included)
    /// to <paramref name="path"/> as a PyTorch state_dict (a torch.save zip): the file a <see cref="I3DInitialization.Checkpoint"/>
    /// start reads (<see cref="I3DTrainerOptions.RgbWeights"/>, <see cref="I3DTrainerOptions.FlowWeights"/>), which
    /// replaces the classifier for the new classes. That is the paper's pre-training on one dataset before another
    /// (section 4, Table 4: Fixed and Full-FT).
    /// </summary>
    public void SaveStreamWeights(VideoStream stream, string path)
    {
        var network = Network(stream);
        lock (_forwardLock) ModuleWeights.Save(network.Module, path);
    }

    /// <summary>Runs <paramref name="read"/> on <paramref name="stream"/>'s network while nothing else uses it and the
    /// model is not disposed (e.g. to copy its weights).</summary>
    internal T UseStream<T>(VideoStream stream, Func<StreamNetwork, T> read)
    {
        var network = Network(stream);
        return _lifetime.Use(() => { lock (_forwardLock) return read(network); });
    }

    private StreamNetwork Network(VideoStream stream)
        => _streams.FirstOrDefault(s => s.Stream == stream) ?? throw new ArgumentException($"the model has no {stream.Name()} stream (it has {string.Join(", ", _streams.Select(s => s.Name))})");

    /// <summary>The clip column each stream reads.</summary>
    public IReadOnlyDictionary<VideoStream, string> StreamColumns => _streams.ToDictionary(s => s.Stream, s => s.Column);

    /// <inheritdoc/>
    public void Dispose() => _lifetime.Dispose(() =>
    {
        foreach (var s in _streams) s.Dispose();
    });

    private sealed class Mapper : ClipClassifierMapper
    {
        private readonly I3DPredictionTransformer _owner;

        public Mapper(I3DPredictionTransformer owner, DataViewSchema inputSchema)
            : base(owner.Host.Register(nameof(Mapper)), inputSchema, owner,
                [.. owner._streams.Select(s => new ClipStream(s.Stream, s.Column, s.InChannels, $"the {s.Name} clips the model was trained on"))],
                owner.Info.ScoreColumnName, owner.Info.PredictedLabelColumnName, owner.Info.Classes)
        {
            _owner = owner;
            for (int i = 0; i < owner._streams.Length; i++)
                owner._streams[i].Backbone.CheckShape(ColumnShape(i), $"column '{owner._streams[i].Column}' ({owner._streams[i].Name} clips)");
        }

        protected override float[] StreamLogits(int stream, float[] clips, long[] shape, long row)
            => _owner.Logits(_owner._streams[stream], clips, shape);
    }
}
