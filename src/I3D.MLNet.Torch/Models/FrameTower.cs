using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Models;

/// <summary>The 2-D ImageNet network in each tower of the paper's 2-D architectures (ConvNet+LSTM, Two-Stream, 3D-Fused).</summary>
public enum TowerKind
{
    /// <summary>Inception-v1 with BatchNorm, the paper's (section 2): ImageNet weights from a torchvision GoogLeNet state_dict.</summary>
    InceptionV1,

    /// <summary>ResNet-18 (not in the paper): ImageNet weights from ResNet18.onnx, which the NuGet package
    /// Microsoft.ML.DnnImageFeaturizer.ResNet18 ships, so a 2-D architecture has an ImageNet start offline.</summary>
    ResNet18,
}

/// <summary>
/// A 2-D ImageNet network used as a tower of a video architecture: it sees one image at a time (an RGB frame, or a stack
/// of flow frames as channels) and gives a feature map, its global average and, with a classifier <c>fc</c>, class scores.
/// <see cref="InceptionV1"/> (the paper's) and <see cref="ResNet18Tower"/> are the two; the architectures build theirs
/// with <see cref="Create"/>.
/// </summary>
public abstract class FrameTower : nn.Module<Tensor, Tensor>
{
    /// <summary>A tower module named <paramref name="name"/>.</summary>
    private protected FrameTower(string name) : base(name) { }

    /// <summary>The classifier's parameter-name prefix in every tower.</summary>
    public const string ClassifierPrefix = "fc.";

    /// <summary>Which network this is.</summary>
    public abstract TowerKind Kind { get; }

    /// <summary>Classes of <c>fc</c>; 0 when there is none (features out).</summary>
    public abstract int NumClasses { get; }

    /// <summary>Input channels of the first convolution (3 for RGB, 2 x stack for stacked flow).</summary>
    public abstract int InChannels { get; }

    /// <summary>Channels of the feature map and of the pooled features (the input of <c>fc</c>).</summary>
    public abstract int FeatureChannels { get; }

    /// <summary>The last feature map before the global average pool (N, features, h, w) of images (N, C, H, W) in [-1, 1].</summary>
    public abstract Tensor FeatureMap(Tensor images);

    /// <summary>The pooled features (N, features) of images (N, C, H, W) in [-1, 1].</summary>
    public Tensor Features(Tensor images)
    {
        using var scope = NewDisposeScope();
        return FeatureMap(images).mean([2, 3]).MoveToOuterDisposeScope();
    }

    /// <summary>The classifier, or null for a features-only tower.</summary>
    internal abstract Linear? Classifier { get; }

    /// <summary>Loads the tower's ImageNet weights from <paramref name="path"/> (what the file is depends on <see cref="Kind"/>);
    /// a first convolution of other than 3 input channels takes the RGB filters averaged over the colours (TSN).</summary>
    public abstract void LoadImageNet(string path);

    /// <summary>Gives each convolution its module path under <paramref name="prefix"/>, named by the convolution check's notices.</summary>
    internal abstract void NameLayers(string prefix);

    /// <summary>
    /// The ONNX nodes of the feature map, written over (N, C, T, H, W) with 1 x k x k kernels so that each frame is on its
    /// own (the time axis carries the images): (N, features, T, h, w). <paramref name="size"/> is the frames' height and width.
    /// </summary>
    internal abstract string ExportFeatureMaps(OnnxModelBuilder b, string prefix, string x, long size);

    /// <summary>A tower of <paramref name="kind"/> with random weights.</summary>
    /// <param name="kind">The network.</param>
    /// <param name="numClasses">Classes of <c>fc</c>; 0 for none.</param>
    /// <param name="inChannels">3 for RGB, 2 x stack for stacked flow.</param>
    public static FrameTower Create(TowerKind kind, int numClasses, int inChannels) => kind switch
    {
        TowerKind.InceptionV1 => new InceptionV1(numClasses, inChannels),
        TowerKind.ResNet18 => new ResNet18Tower(numClasses, inChannels),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown tower"),
    };

    /// <summary>The stable name of a 2-D architecture with towers of <paramref name="kind"/>: the paper's Inception-v1 keeps
    /// the architecture's own name (<c>TwoStream2d</c>), another tower adds its own (<c>TwoStream2dResNet18</c>).</summary>
    internal static string ArchitectureName(string architecture, TowerKind kind) => kind == TowerKind.InceptionV1 ? architecture : architecture + kind;

    /// <summary>The command-line name likewise: <c>two-stream</c>, <c>two-stream-resnet18</c>.</summary>
    internal static string ArchitectureCliName(string architecture, TowerKind kind)
        => kind == TowerKind.InceptionV1 ? architecture : $"{architecture}-{kind.ToString().ToLowerInvariant()}";

    /// <summary><paramref name="net"/> with each of its <paramref name="towers"/> loaded from the ImageNet file at
    /// <paramref name="path"/> (<see cref="LoadImageNet"/>); disposed if a tower fails to load.</summary>
    internal static T WithImageNet<T>(T net, string path, params Func<T, FrameTower>[] towers) where T : nn.Module
    {
        try
        {
            foreach (var tower in towers) tower(net).LoadImageNet(path);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>Frames (N, C, T, H, W) as images (N x T, C, H, W), frame-major within each clip.</summary>
    internal static Tensor Frames(Tensor clip)
    {
        long n = clip.shape[0], c = clip.shape[1], t = clip.shape[2];
        return clip.permute(0, 2, 1, 3, 4).reshape(n * t, c, clip.shape[3], clip.shape[4]);
    }

    /// <summary>
    /// Flow frames (N, 2, S x L, H, W) as S stacks of L frames each (N x S, 2L, H, W), channels x0, y0, x1, y1, ...:
    /// TSN's order (yjxiong/tsn-pytorch dataset.py appends the x and y images of each frame in turn, models.py views
    /// them as 2L channels).
    /// </summary>
    internal static Tensor FlowStacks(Tensor clip, long stack)
    {
        long n = clip.shape[0], t = clip.shape[2], h = clip.shape[3], w = clip.shape[4], s = t / stack;
        return clip.reshape(n, 2, s, stack, h, w).permute(0, 2, 3, 1, 4, 5).reshape(n * s, 2 * stack, h, w);
    }
}
