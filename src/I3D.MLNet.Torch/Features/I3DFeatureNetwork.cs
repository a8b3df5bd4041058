using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Features;

/// <summary>
/// One InceptionI3d stream (RGB or flow) as a feature extractor: the features of clips (N x C x T x H x W in [-1, 1], as
/// SampleClips writes them) at one endpoint, average-pooled over time and space to one vector per clip, then per clip or
/// averaged over the clips. What <c>mlContext.Transforms.ExtractI3DFeatures</c> runs on each row, and the entry point
/// for batch extraction outside ML.NET (<see cref="Extract"/>). Safe to call from several threads (one forward pass at a
/// time); after <see cref="Dispose"/> a call is an <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class I3DFeatureNetwork : IDisposable
{
    /// <summary>The default endpoint: the 1024-d pooled features before the logits layer (<see cref="InceptionI3d.Features"/>:
    /// the 2x7x7 average pool of <c>Mixed_5c</c>, averaged over time).</summary>
    public const string PooledFeatures = "Features";

    private readonly object _forwardLock = new();
    private readonly ModelLifetime _lifetime = new("the I3D feature extractor (TorchSharp)");
    private InceptionI3d _network;

    /// <summary>Takes ownership of <paramref name="network"/> (disposed with this), in eval mode on <paramref name="device"/>.</summary>
    internal I3DFeatureNetwork(VideoStream stream, InceptionI3d network, string endpoint, Device device)
    {
        if (stream.Channels() != network.InChannels)
            throw new ArgumentException($"a {network.InChannels}-channel network is not a {stream.Name()} stream (it takes {stream.Channels()} channels)");
        if (endpoint != PooledFeatures && !network.EndpointNames.Contains(endpoint))
            throw new ArgumentException($"unknown I3D endpoint '{endpoint}'; known: {PooledFeatures}, {string.Join(", ", network.EndpointNames)}", nameof(endpoint));
        Dimensions = endpoint == PooledFeatures ? InceptionI3d.FeatureChannels : network.EndpointChannels(endpoint);
        Stream = stream;
        Endpoint = endpoint;
        network.eval();
        _network = (InceptionI3d)network.to(device);
    }

    /// <summary>The endpoint names <see cref="Endpoint"/> takes: <see cref="PooledFeatures"/>, then InceptionI3d's
    /// (<see cref="InceptionI3d.EndpointNames"/>: <c>Conv3d_1a_7x7</c> ... <c>Mixed_5c</c>, <c>Logits</c>).</summary>
    public IReadOnlyList<string> EndpointNames => [PooledFeatures, .. _network.EndpointNames];

    /// <summary>The stream: RGB (3 channels) or flow (2).</summary>
    public VideoStream Stream { get; }

    /// <summary>Input channels of the clips (3 RGB, 2 flow).</summary>
    public int InChannels => _network.InChannels;

    /// <summary>Classes of the network's logits layer (the size of the <c>Logits</c> endpoint).</summary>
    public int NumClasses => _network.NumClasses;

    /// <summary>The endpoint whose output is pooled (<see cref="EndpointNames"/>).</summary>
    public string Endpoint { get; }

    /// <summary>Length of one clip's feature vector: 1024 for <see cref="PooledFeatures"/>, else the endpoint's channels.</summary>
    public int Dimensions { get; }

    /// <summary>
    /// Reads pytorch-i3d InceptionI3d weights (a <c>torch.save</c> state_dict such as <c>rgb_imagenet.pt</c>, a file
    /// <see cref="I3DPredictionTransformer.SaveStreamWeights"/> wrote, or a kinetics-i3d TensorFlow checkpoint): input
    /// channels and classes come from the file.
    /// </summary>
    /// <param name="path">The weight file.</param>
    /// <param name="stream">The stream the file must be (checked against its input channels); null: the file's.</param>
    /// <param name="endpoint"><see cref="PooledFeatures"/> (default) or an InceptionI3d endpoint name (<see cref="InceptionI3d.EndpointNames"/>).</param>
    /// <param name="device"><c>auto</c> (CUDA when TorchSharp sees one), <c>cpu</c> or <c>cuda</c>.</param>
    public static I3DFeatureNetwork FromWeights(string path, VideoStream? stream = null, string endpoint = PooledFeatures, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(endpoint);
        var resolved = TorchDevices.Resolve(device);
        var network = ModuleWeights.LoadInceptionI3d(path);
        try
        {
            var own = VideoStreams.OfChannels(network.InChannels);
            if (stream is { } given && given != own)
                throw new WeightFileException($"{path}: given as {given.Name()} weights, but it is a {network.InChannels}-channel network (the {given.Name()} stream takes {given.Channels()})");
            return new I3DFeatureNetwork(own, network, endpoint, resolved);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A copy of one stream's network of a fitted I3D classifier (the I3D trainer's model, or ScoreI3D's on weight files):
    /// the model keeps its own and may be disposed independently.
    /// </summary>
    /// <param name="model">The classifier; its stream must be InceptionI3d (the default <see cref="I3DTrainerOptions.Backbone"/>).</param>
    /// <param name="stream">The stream to take; null when the model has only one.</param>
    /// <param name="endpoint"><see cref="PooledFeatures"/> (default) or an InceptionI3d endpoint name (<see cref="InceptionI3d.EndpointNames"/>).</param>
    /// <param name="device"><c>auto</c>, <c>cpu</c> or <c>cuda</c>.</param>
    public static I3DFeatureNetwork FromModel(I3DPredictionTransformer model, VideoStream? stream = null, string endpoint = PooledFeatures, string device = "auto")
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(endpoint);
        var resolved = TorchDevices.Resolve(device);
        var chosen = stream ?? (model.Streams.Count == 1 ? model.Streams[0]
            : throw new ArgumentException($"the model has {string.Join(" and ", model.Streams.Select(s => s.Name()))} streams: say which to take (Stream)"));
        var network = model.UseStream(chosen, s =>
        {
            if (s.Module is not InceptionI3d source)
                throw new ArgumentException($"the model's {s.Name} stream is {s.Backbone.Name}; I3D features come from InceptionI3d streams");
            var copy = new InceptionI3d(source.NumClasses, source.InChannels);
            try { ModuleWeights.Load(copy, [.. source.state_dict()], $"the model's {s.Name} stream", $"InceptionI3d({source.NumClasses} classes, {source.InChannels} channels)"); }
            catch { copy.Dispose(); throw; }
            return copy;
        });
        try { return new I3DFeatureNetwork(chosen, network, endpoint, resolved); }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The features of one video's clips: <paramref name="clips"/> holds N x C x T x H x W float32 values (the layout of
    /// SampleClips and of <c>ClipTensor.ToChannelsFirst</c>), <paramref name="shape"/> is [N, C, T, H, W].
    /// </summary>
    /// <param name="clips">The clip values, in [-1, 1].</param>
    /// <param name="shape">[N, C, T, H, W]; C must be <see cref="InChannels"/>.</param>
    /// <param name="perClip">True: N x <see cref="Dimensions"/> values (clip by clip); false: <see cref="Dimensions"/> values, the mean over the clips.</param>
    public float[] Extract(float[] clips, long[] shape, bool perClip = false)
    {
        ArgumentNullException.ThrowIfNull(clips);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length != 5 || shape.Any(d => d < 1) || shape.Aggregate(1L, (a, b) => a * b) != clips.Length)
            throw new ArgumentException($"clips of shape ({string.Join(", ", shape)}) with {clips.Length} values: expected N x C x T x H x W values");
        return _lifetime.Use(() =>
        {
            lock (_forwardLock)
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var device = _network.parameters().First().device;
                var features = Pooled(tensor(clips, shape).to(device));
                return (perClip ? features.flatten() : features.mean([0])).cpu().data<float>().ToArray();
            }
        });
    }

    /// <summary>The pooled features (N, <see cref="Dimensions"/>) of clips (N, C, T, H, W) on the network's device, in
    /// the clips' element type (float32, or float64 after <see cref="To"/>). Call under the forward lock.</summary>
    internal Tensor Pooled(Tensor clips)
    {
        if (Endpoint == PooledFeatures) return _network.Features(clips);
        using var scope = NewDisposeScope();
        using var map = _network.Endpoint(clips, Endpoint);   // (N, C, T, H, W), or (N, classes, T) for Logits
        return map.flatten(2).mean([2]).MoveToOuterDisposeScope();
    }

    /// <summary>Converts the network to <paramref name="type"/> (float64 for numerical references in tests).</summary>
    internal void To(ScalarType type)
    {
        lock (_forwardLock) _network = (InceptionI3d)_network.to(type);
    }

    /// <summary>Writes the network's weights (TorchSharp <c>Module.save</c>), from the CPU.</summary>
    internal void Save(BinaryWriter writer) => _lifetime.Use(() =>
    {
        lock (_forwardLock)
        {
            var device = _network.parameters().First().device;
            if (device.type != DeviceType.CPU) _network = (InceptionI3d)_network.to(CPU);
            _network.save(writer);
            if (device.type != DeviceType.CPU) _network = (InceptionI3d)_network.to(device);
            return true;
        }
    });

    /// <inheritdoc/>
    public void Dispose() => _lifetime.Dispose(() => _network.Dispose());
}
