using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Inflation;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Training;

/// <summary>One stream (RGB or flow) of a two-stream I3D: its network and how clips in [-1, 1] enter it.</summary>
internal sealed class StreamNetwork : IDisposable
{
    public StreamNetwork(VideoStream stream, string column, I3DBackbone backbone, int numClasses, int inChannels, nn.Module<Tensor, Tensor> module)
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
    public I3DBackbone Backbone { get; }
    public int NumClasses { get; }
    public int InChannels { get; }
    public nn.Module<Tensor, Tensor> Module { get; private set; }

    /// <summary>Builds a network of <paramref name="backbone"/> (random weights; callers seed torch first).</summary>
    public static nn.Module<Tensor, Tensor> Build(I3DBackbone backbone, int numClasses, int inChannels) => backbone switch
    {
        I3DBackbone.InceptionI3d => new InceptionI3d(numClasses, inChannels),
        _ => new ResNet3d18(numClasses, inChannels, [2, 2, 2, 3]),
    };

    /// <summary>Builds and initialises a stream as the options say.</summary>
    public static StreamNetwork Create(VideoStream stream, string column, int numClasses, int inChannels, I3DTrainerOptions options)
    {
        var module = Build(options.Backbone, numClasses, inChannels);
        try
        {
            string? weights = stream == VideoStream.Rgb ? options.RgbWeights : options.FlowWeights ?? (options.Initialization == I3DInitialization.InflatedImageNet ? options.RgbWeights : null);
            switch (options.Initialization)
            {
                case I3DInitialization.Checkpoint:
                    LoadReplacingClassifier(module, weights!, options.Backbone, $"{options.Backbone}({numClasses} classes, {inChannels} channels)");
                    break;
                case I3DInitialization.InflatedImageNet:
                    var inflated = InflatedImageNet(weights!, options.Backbone, inChannels);
                    try { LoadReplacingClassifier(module, inflated, weights!, options.Backbone, $"{options.Backbone}({numClasses} classes, {inChannels} channels)"); }
                    finally { foreach (var kv in inflated) kv.Value.Dispose(); }
                    break;
            }
            return new StreamNetwork(stream, column, options.Backbone, numClasses, inChannels, module);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>What a ResNet18 stream multiplies its [-1, 1] clips by (see <see cref="Logits"/>).</summary>
    internal const float ResNetInputScale = 127.5f;

    /// <summary>Class scores (N, classes) for clips (N, C, T, H, W) in [-1, 1].</summary>
    public Tensor Logits(Tensor clips)
    {
        if (Backbone == I3DBackbone.InceptionI3d) return Module.forward(clips);
        // The inflated CNTK ResNet-18 was trained on mean-subtracted 0..255 pixels: [-1, 1] x 127.5 is that range,
        // centred on mid-grey (its BatchNorms adapt to the small offset while fine-tuning).
        using var scaled = clips * ResNetInputScale;
        return Module.forward(scaled);
    }

    /// <summary>The parameters that train: all, or in the paper's "Fixed" mode the classifier's only (the rest frozen).</summary>
    public IList<TorchSharp.Modules.Parameter> TrainableParameters(bool fixedFeatures)
    {
        var result = new List<TorchSharp.Modules.Parameter>();
        foreach (var (key, p) in Module.named_parameters())
        {
            bool classifier = key.StartsWith("logits.", StringComparison.Ordinal) || key.StartsWith("fc.", StringComparison.Ordinal);
            p.requires_grad = !fixedFeatures || classifier;
            if (p.requires_grad) result.Add(p);
        }
        return result;
    }

    public void Save(BinaryWriter writer) => Module.save(writer);

    public void Load(BinaryReader reader) => Module.load(reader);

    public void MoveTo(Device device) => Module = Module.to(device);

    private static void LoadReplacingClassifier(nn.Module<Tensor, Tensor> module, string path, I3DBackbone backbone, string network)
    {
        var weights = WeightFiles.Read(path);
        try { LoadReplacingClassifier(module, weights, path, backbone, network); }
        finally { foreach (var kv in weights) kv.Value.Dispose(); }
    }

    /// <summary>
    /// Loads every weight but the classifier's (the new classes keep the fresh one): strictly, so a file of another
    /// network or stream is refused with the keys and shapes that differ.
    /// </summary>
    private static void LoadReplacingClassifier(nn.Module<Tensor, Tensor> module, IReadOnlyList<KeyValuePair<string, Tensor>> weights, string source, I3DBackbone backbone, string network)
    {
        string classifier = backbone == I3DBackbone.InceptionI3d ? "logits." : "fc.";
        var own = module.state_dict();
        var merged = weights.Where(kv => !kv.Key.StartsWith(classifier, StringComparison.Ordinal)).ToList();
        merged.AddRange(own.Where(kv => kv.Key.StartsWith(classifier, StringComparison.Ordinal)));
        ModuleWeights.Load(module, merged, source, network);
    }

    /// <summary>2-D ImageNet weights inflated to the backbone; for flow (2 channels) the first layer's RGB filters are
    /// averaged over the colour channels and repeated.</summary>
    private static IReadOnlyList<KeyValuePair<string, Tensor>> InflatedImageNet(string path, I3DBackbone backbone, int inChannels)
    {
        nn.Module<Tensor, Tensor> inflated = backbone == I3DBackbone.ResNet18
            ? ResNet18Inflation.FromOnnx(path)
            : GoogLeNetInflation.FromStateDict(path);
        using (inflated)
        {
            string first = backbone == I3DBackbone.ResNet18 ? "conv1.weight" : "Conv3d_1a_7x7.conv3d.weight";
            var result = new List<KeyValuePair<string, Tensor>>();
            foreach (var (key, value) in inflated.state_dict())
            {
                var copy = value.detach().clone();
                if (key == first && inChannels != copy.shape[1])
                {
                    using var mean = copy.mean([1], keepdim: true);
                    var expanded = mean.expand(copy.shape[0], inChannels, copy.shape[2], copy.shape[3], copy.shape[4]).contiguous();
                    copy.Dispose();
                    copy = expanded;
                }
                result.Add(new(key, copy));
            }
            return result;
        }
    }

    public void Dispose() => Module.Dispose();
}
