using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Training;

/// <summary>One stream (RGB or flow) of a classifier: its architecture, its network and the clip column it reads.</summary>
internal sealed class StreamNetwork : IDisposable
{
    public StreamNetwork(VideoStream stream, string column, VideoBackbone backbone, int numClasses, int inChannels, nn.Module<Tensor, Tensor> module)
    {
        Stream = stream;
        Column = column;
        Backbone = backbone;
        NumClasses = numClasses;
        InChannels = inChannels;
        Module = module;
    }

    public VideoStream Stream { get; }

    /// <summary>The stream's name in zips and messages: rgb or flow.</summary>
    public string Name => Stream.Name();
    public string Column { get; }
    public VideoBackbone Backbone { get; }
    public int NumClasses { get; }
    public int InChannels { get; }
    public nn.Module<Tensor, Tensor> Module { get; private set; }

    /// <summary>Builds and initialises a stream as the options say, for clips cropped to <paramref name="cropSize"/> (null: Table 1's).</summary>
    public static StreamNetwork Create(VideoStream stream, string column, int numClasses, int inChannels, I3DTrainerOptions options, int? cropSize = null)
    {
        var backbone = options.Architecture;
        var module = backbone.Build(numClasses, inChannels, cropSize);
        try
        {
            string? weights = options.WeightsFor(stream);
            string network = $"{backbone.Name}({numClasses} classes, {inChannels} channels)";
            switch (options.Initialization)
            {
                case I3DInitialization.Checkpoint:
                    var read = WeightFiles.Read(weights!);
                    try { LoadReplacingClassifier(module, read, weights!, backbone, network); }
                    finally { foreach (var kv in read) kv.Value.Dispose(); }
                    break;
                case I3DInitialization.InflatedImageNet:
                    var inflated = backbone.ImageNetWeights(weights!, inChannels);
                    try { LoadReplacingClassifier(module, inflated, weights!, backbone, network); }
                    finally { foreach (var kv in inflated) kv.Value.Dispose(); }
                    break;
            }
            return new StreamNetwork(stream, column, backbone, numClasses, inChannels, module);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Class scores (N, classes) for clips (N, C, T, H, W) in [-1, 1].</summary>
    public Tensor Logits(Tensor clips) => Backbone.Logits(Module, clips);

    /// <summary>The arithmetic <see cref="ScoringLogits"/> uses (not saved: the weights stay float32).</summary>
    public ScoringPrecision Precision { get; private set; } = ScoringPrecision.Float32;

    // The network in reduced precision for scoring, a copy of Module's weights; null in float32.
    private nn.Module<Tensor, Tensor>? _reduced;

    /// <summary>Scores with <paramref name="precision"/> from now on: for bfloat16 a copy of the weights in bfloat16 on the
    /// module's device (Module itself, what trains and is saved, stays float32).</summary>
    public void SetPrecision(ScoringPrecision precision)
    {
        _reduced?.Dispose();
        _reduced = null;
        Precision = precision;
        if (precision == ScoringPrecision.Float32) return;
        var copy = Backbone.Build(NumClasses, InChannels, Backbone.CropSizeOf(Module));
        try
        {
            ModuleWeights.Load(copy, [.. Module.state_dict()], $"the {Name} stream", $"{Backbone.Name}({NumClasses} classes, {InChannels} channels)");
            copy.eval();
            _reduced = copy.to(ReducedPrecision.DType(precision)).to(Module.parameters().First().device);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Class scores (N, classes), float32, for clips (N, C, T, H, W) in [-1, 1], in <see cref="Precision"/>.</summary>
    public Tensor ScoringLogits(Tensor clips)
    {
        if (_reduced is null) return Logits(clips);
        using var x = clips.to(ReducedPrecision.DType(Precision));
        using var logits = Backbone.Logits(_reduced, x);
        return logits.to(ScalarType.Float32);
    }

    /// <summary>The training loss of clips and their labels (the architecture's: per clip, or per time step for the LSTM).</summary>
    public Tensor Loss(Tensor clips, Tensor labels) => Backbone.Loss(Module, clips, labels);

    /// <summary>The parameters that train: all, or in the paper's "Fixed" mode the classifier's only (the rest frozen).</summary>
    public IList<TorchSharp.Modules.Parameter> TrainableParameters(bool fixedFeatures)
    {
        var result = new List<TorchSharp.Modules.Parameter>();
        foreach (var (key, p) in Module.named_parameters())
        {
            bool classifier = key.StartsWith(Backbone.ClassifierPrefix, StringComparison.Ordinal);
            p.requires_grad = !fixedFeatures || classifier;
            if (p.requires_grad) result.Add(p);
        }
        return result;
    }

    public void Save(BinaryWriter writer) => Module.save(writer);

    /// <summary>Loads weights that <see cref="Save"/> wrote, checked first (<see cref="TorchSharpWeights"/>); <paramref name="source"/> names them in errors.</summary>
    public void Load(BinaryReader reader, string source) => TorchSharpWeights.Load(Module, reader, source);

    public void MoveTo(Device device)
    {
        Module = Module.to(device);
        _reduced = _reduced?.to(device);
    }

    /// <summary>
    /// Loads every weight but the classifier's (the new classes keep the fresh one): strictly, so a file of another
    /// network or stream is refused with the keys and shapes that differ.
    /// </summary>
    private static void LoadReplacingClassifier(nn.Module<Tensor, Tensor> module, IReadOnlyList<KeyValuePair<string, Tensor>> weights, string source, VideoBackbone backbone, string network)
    {
        string classifier = backbone.ClassifierPrefix;
        var own = module.state_dict();
        var merged = weights.Where(kv => !kv.Key.StartsWith(classifier, StringComparison.Ordinal)).ToList();
        merged.AddRange(own.Where(kv => kv.Key.StartsWith(classifier, StringComparison.Ordinal)));
        ModuleWeights.Load(module, merged, source, network);
    }

    public void Dispose()
    {
        _reduced?.Dispose();
        Module.Dispose();
    }
}
