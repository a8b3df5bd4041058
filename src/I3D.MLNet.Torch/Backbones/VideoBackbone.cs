using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Backbones;

/// <summary>
/// The clips an architecture is trained and tested on (the paper's Table 1): <paramref name="Frames"/> frames taken 1 of
/// every <paramref name="FrameStride"/> at 25 fps, cropped to <paramref name="CropSize"/>, and <paramref name="TestViews"/>
/// clips evenly spaced over a test video with their predictions averaged.
/// </summary>
public sealed record ClipProtocol(int Frames, int FrameStride, int CropSize, int TestViews);

/// <summary>
/// One video architecture (section 2 of the paper): how its network is built for a class count and an input stream,
/// what clips it takes, which layers are its classifier, how it starts from ImageNet, how it is trained (its loss) and
/// how it is written as ONNX. Everything else (the trainer, model zips, the scorers, the exporter, the CLI) goes through
/// this, keyed by <see cref="Name"/> (<see cref="VideoBackbones"/>); a new architecture is one file with its module and
/// its backbone, and one line in the registry.
/// </summary>
public abstract class VideoBackbone
{
    /// <summary>The stable name written into model zips, checkpoints and ONNX metadata (never change it).</summary>
    public abstract string Name { get; }

    /// <summary>The lower-case name of <c>i3d train --architecture</c>.</summary>
    public abstract string CliName { get; }

    /// <summary>What it is, with its row of the paper's Table 1.</summary>
    public abstract string Summary { get; }

    /// <summary>The streams the paper trains it with (Table 2: ConvNet+LSTM and 3D-ConvNet are RGB only).</summary>
    public virtual IReadOnlyList<VideoStream> Streams => VideoStreams.All;

    /// <summary>The paper's clips for <paramref name="stream"/> (Table 1).</summary>
    public abstract ClipProtocol Protocol(VideoStream stream);

    /// <summary>The network for <paramref name="classes"/> classes and clips of <paramref name="inChannels"/> channels, with random weights (callers seed torch first).</summary>
    public abstract nn.Module<Tensor, Tensor> Build(int classes, int inChannels);

    /// <summary>The network for clips cropped to <paramref name="cropSize"/> (null: Table 1's crop). Only a network whose
    /// layers are sized for its input (C3D's fc6) builds differently; the others take any crop.</summary>
    public nn.Module<Tensor, Tensor> Build(int classes, int inChannels, int? cropSize)
        => cropSize is { } crop ? BuildForCrop(classes, inChannels, crop) : Build(classes, inChannels);

    /// <summary>See <see cref="Build(int, int, int?)"/>: the network for clips of <paramref name="cropSize"/>.</summary>
    protected virtual nn.Module<Tensor, Tensor> BuildForCrop(int classes, int inChannels, int cropSize) => Build(classes, inChannels);

    /// <summary>The crop <paramref name="module"/>'s layers were sized for (written into model zips, so that loading
    /// builds the same layers), or null when it takes any crop.</summary>
    public virtual int? CropSizeOf(nn.Module<Tensor, Tensor> module) => null;

    /// <summary>The parameter-name prefix of the classifier: what the paper's "Fixed" mode trains (section 4, Table 4)
    /// and what a new class count replaces.</summary>
    public abstract string ClassifierPrefix { get; }

    /// <summary>What clips in [-1, 1] are multiplied by before the network (1 but for networks bootstrapped from another input range).</summary>
    public virtual float InputScale => 1;

    /// <summary>
    /// Null when the network takes clips of <paramref name="shape"/> (N, C, T, H, W), else the shape it takes, e.g.
    /// <c>(N, 3, 16, 112, 112)</c> (checked before training and scoring start, so a wrong column is one line).
    /// </summary>
    public virtual string? ExpectedShape(long[] shape) => null;

    /// <summary>Throws a one-line error naming the architecture and the shape it takes unless it takes clips of <paramref name="shape"/>.</summary>
    /// <param name="shape">The clip column's N, C, T, H, W.</param>
    /// <param name="where">What holds the clips, for the message (a column).</param>
    public void CheckShape(long[] shape, string where)
    {
        if (ExpectedShape(shape) is { } expected)
            throw new ArgumentException($"{Name} takes clips {expected}; {where} holds ({string.Join(", ", shape)})");
    }

    /// <summary>Test-time class scores (N, classes) of clips (N, C, T, H, W) in [-1, 1].</summary>
    public virtual Tensor Logits(nn.Module<Tensor, Tensor> module, Tensor clips)
    {
        if (InputScale == 1) return module.forward(clips);
        using var scaled = clips.Times(InputScale);
        return module.forward(scaled);
    }

    /// <summary>The training loss of clips and their labels: cross-entropy of the clip's scores by default, in float32
    /// (under mixed precision the scores come out of a bfloat16 convolution).</summary>
    public virtual Tensor Loss(nn.Module<Tensor, Tensor> module, Tensor clips, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var logits = Logits(module, clips);
        return nn.functional.cross_entropy(logits.to(ScalarType.Float32), labels).MoveToOuterDisposeScope(); // float32 logits: no copy
    }

    /// <summary>True when the network trains under <see cref="Training.TrainingPrecision.BFloat16"/> (mixed precision):
    /// every layer takes bfloat16 activations and its scores a float32 loss. False by default.</summary>
    public virtual bool TrainsInBFloat16 => false;

    /// <summary>True when <see cref="ImageNetWeights"/> has an ImageNet start for this architecture.</summary>
    public virtual bool HasImageNetStart => false;

    /// <summary>True when the file at <paramref name="path"/> is this architecture's kind of ImageNet start: a torchvision
    /// GoogLeNet state_dict for the Inception-v1 ones, ResNet18.onnx (<c>.onnx</c>) for the ResNet-18 ones.</summary>
    public virtual bool IsImageNetFile(string path) => HasImageNetStart && !IsOnnx(path);

    /// <summary>True for a path that names an ONNX file.</summary>
    protected static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The weights of an ImageNet start from the 2-D file at <paramref name="path"/> for clips of <paramref name="inChannels"/>
    /// channels (the classifier's are left out or replaced by the caller). The caller disposes them.
    /// </summary>
    public virtual IReadOnlyList<KeyValuePair<string, Tensor>> ImageNetWeights(string path, int inChannels)
        => throw new NotSupportedException($"{Name} has no ImageNet initialisation (the paper trains it from scratch): use Scratch or Checkpoint");

    /// <summary>The network as ONNX bytes in the <see cref="I3D.MLNet.Onnx.I3DOnnxFormat"/> contract.</summary>
    public abstract byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options);

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>Copies of <paramref name="module"/>'s weights (the caller disposes them).</summary>
    protected static IReadOnlyList<KeyValuePair<string, Tensor>> Copies(nn.Module<Tensor, Tensor> module)
        => [.. module.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().clone()))];

    /// <summary>
    /// A state_dict whose first convolution (<paramref name="firstKey"/>, filters (O, 3, ...)) is adapted to
    /// <paramref name="inChannels"/> channels: the RGB filters averaged over the colour channels and repeated, as TSN
    /// does for flow (Wang et al. 2016, "cross modality pre-training"); other weights copied.
    /// </summary>
    protected static IReadOnlyList<KeyValuePair<string, Tensor>> WithInputChannels(nn.Module<Tensor, Tensor> source, string firstKey, int inChannels)
    {
        var result = new List<KeyValuePair<string, Tensor>>();
        foreach (var (key, value) in source.state_dict())
        {
            var copy = value.detach().clone();
            if (key == firstKey && inChannels != copy.shape[1])
            {
                var averaged = AveragedOverChannels(copy, inChannels);
                copy.Dispose();
                copy = averaged;
            }
            result.Add(new(key, copy));
        }
        return result;
    }

    /// <summary>First-layer filters (O, 3, ...) for <paramref name="channels"/> input channels: the mean over the colour
    /// channels, repeated (TSN's cross-modality initialisation, Wang et al. 2016; the paper does not say how, section 2.3).</summary>
    internal static Tensor AveragedOverChannels(Tensor rgb, long channels)
    {
        using var mean = rgb.mean([1], keepdim: true);
        long[] shape = [.. rgb.shape];
        shape[1] = channels;
        return mean.expand(shape).contiguous();
    }
}
