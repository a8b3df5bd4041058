using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Torch.Features;

/// <summary>
/// Options of <c>mlContext.Transforms.ExtractI3DFeatures</c>: which network (a weight file or a stream of a fitted I3D
/// classifier, exactly one of <see cref="WeightsPath"/> and <see cref="Model"/>), which endpoint, per clip or averaged
/// over the row's clips, and the columns.
/// </summary>
public sealed record I3DFeatureExtractorOptions
{
    /// <summary>The clip column: N x C x T x H x W float32 clips from SampleClips (C = 3 RGB, 2 flow).</summary>
    public string InputColumnName { get; init; } = "RgbClip";

    /// <summary>The output column: a fixed-size float vector (<see cref="I3DFeatureNetwork.Dimensions"/> values, or
    /// N x Dimensions with <see cref="PerClip"/>).</summary>
    public string OutputColumnName { get; init; } = "Features";

    /// <summary>pytorch-i3d InceptionI3d weights (a torch.save state_dict such as <c>rgb_imagenet.pt</c> or
    /// <c>flow_imagenet.pt</c>, or one <see cref="I3DPredictionTransformer.SaveStreamWeights"/> wrote); the stream is
    /// the file's (3 input channels RGB, 2 flow).</summary>
    public string? WeightsPath { get; init; }

    /// <summary>A fitted I3D classifier (the I3D trainer's model): its <see cref="Stream"/>'s network is copied.</summary>
    public I3DPredictionTransformer? Model { get; init; }

    /// <summary>The stream: required for a <see cref="Model"/> with two streams; for a <see cref="WeightsPath"/> a check
    /// of the file's channels. Null: the only stream there is.</summary>
    public VideoStream? Stream { get; init; }

    /// <summary><see cref="I3DFeatureNetwork.PooledFeatures"/> (default: the 1024-d features before the logits layer)
    /// or any InceptionI3d endpoint (<c>Conv3d_1a_7x7</c> ... <c>Mixed_4f</c>, <c>Mixed_5c</c>, <c>Logits</c>),
    /// averaged over time and space to one vector per clip.</summary>
    public string Endpoint { get; init; } = I3DFeatureNetwork.PooledFeatures;

    /// <summary>False (default): the features averaged over the row's clips (the paper's test protocol averages over the
    /// video); true: one vector per clip (N x dimensions).</summary>
    public bool PerClip { get; init; }

    /// <summary><c>auto</c> (CUDA when TorchSharp sees one), <c>cpu</c> or <c>cuda</c>. Where it runs, not saved: a
    /// loaded zip picks <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";
}
