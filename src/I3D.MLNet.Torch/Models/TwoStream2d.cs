using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// One tower of the paper's Two-Stream network (2-D late fusion, section 2.3 and Figure 2c): an ImageNet Inception-v1
/// (or another <see cref="FrameTower"/>) on single RGB frames, or on stacks of 10 optical flow frames (20 channels); the two towers' predictions are averaged
/// (by the caller, as for I3D's two streams). The stream is chosen by <c>inChannels</c>: 3 (RGB) or 2 (flow).
/// Input: a clip (N, C, T, H, W) in [-1, 1]. RGB: every frame is one snapshot and the logits are averaged over the T
/// frames (Table 1: one frame at training, 25 snapshots averaged at test). Flow: T must be a multiple of the stack
/// length (10); each run of 10 frames is one 20-channel input (x0, y0, x1, y1, ...; TSN's order) and the logits are
/// averaged over the T / 10 stacks.
/// </summary>
public sealed class TwoStream2d : nn.Module<Tensor, Tensor>
{
    private readonly FrameTower tower;

    /// <summary>Optical flow frames per stack (section 2.3: "a stack of 10 optical flow frames").</summary>
    public const int DefaultFlowStack = 10;

    /// <summary>The classifier's parameter-name prefix: what the paper's "Fixed" mode trains and a new class count replaces.</summary>
    public const string ClassifierPrefix = "tower." + FrameTower.ClassifierPrefix;

    /// <param name="numClasses">Classes of the classifier.</param>
    /// <param name="inChannels">3: the RGB tower; 2: the optical flow tower.</param>
    /// <param name="flowStack">Flow frames per stack (the flow tower's conv1 takes 2 x flowStack channels).</param>
    /// <param name="tower">The 2-D network (the paper's: Inception-v1).</param>
    public TwoStream2d(int numClasses = 400, int inChannels = 3, int flowStack = DefaultFlowStack, TowerKind tower = TowerKind.InceptionV1) : base(nameof(TwoStream2d))
    {
        if (inChannels is not (2 or 3)) throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, "TwoStream2d takes 3 (RGB) or 2 (optical flow) channels");
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses));
        if (flowStack < 1) throw new ArgumentOutOfRangeException(nameof(flowStack));
        NumClasses = numClasses;
        InChannels = inChannels;
        FlowStack = inChannels == 2 ? flowStack : 1;
        this.tower = FrameTower.Create(tower, numClasses, inChannels == 3 ? 3 : 2 * flowStack);
        RegisterComponents();
        this.tower.NameLayers("tower.");
    }

    /// <summary>Classes of the classifier.</summary>
    public int NumClasses { get; }
    /// <summary>Input channels: 3 for RGB, 2 for flow.</summary>
    public int InChannels { get; }

    /// <summary>Frames per tower input: 1 for RGB, the stack length for flow.</summary>
    public int FlowStack { get; }

    /// <summary>True for the optical flow tower.</summary>
    public bool IsFlow => InChannels == 2;

    /// <summary>The 2-D network (keys <c>tower.conv1.conv.weight</c>, ..., <c>tower.fc.weight</c> for Inception-v1).</summary>
    public FrameTower Tower => tower;

    /// <summary>Logits averaged over the clip's snapshots (N, classes).</summary>
    public override Tensor forward(Tensor clip)
    {
        using var scope = NewDisposeScope();
        using var perSnapshot = SnapshotLogits(clip);
        return perSnapshot.mean([1]).MoveToOuterDisposeScope();
    }

    /// <summary>Logits of each snapshot (N, snapshots, classes): one per RGB frame or per flow stack.</summary>
    public Tensor SnapshotLogits(Tensor clip)
    {
        Check(clip);
        using var scope = NewDisposeScope();
        long n = clip.shape[0];
        var images = IsFlow ? FrameTower.FlowStacks(clip, FlowStack) : FrameTower.Frames(clip);
        return tower.forward(images).view(n, -1, NumClasses).MoveToOuterDisposeScope();
    }

    private void Check(Tensor clip)
    {
        bool ok = clip.dim() == 5 && clip.shape[1] == InChannels && clip.shape[2] >= FlowStack && clip.shape[2] % FlowStack == 0;
        if (!ok)
            throw new ArgumentException(IsFlow
                ? $"TwoStream2d (optical flow) takes clips (N, 2, T, H, W) with T a multiple of {FlowStack}, not ({string.Join(", ", clip.shape)})"
                : $"TwoStream2d (RGB) takes clips (N, 3, T, H, W), not ({string.Join(", ", clip.shape)})");
    }

    /// <summary>
    /// A tower initialized from ImageNet (section 2): for Inception-v1 a torchvision GoogLeNet state_dict, for ResNet-18
    /// ResNet18.onnx (<see cref="FrameTower.LoadImageNet"/>). The flow tower's 20-channel conv1 gets the RGB kernel
    /// averaged over channels and replicated (TSN's cross-modality initialization); <c>fc</c> is replaced (fresh) when the
    /// file has none of the class count.
    /// </summary>
    public static TwoStream2d FromImageNet(string path, int numClasses = 400, int inChannels = 3, int flowStack = DefaultFlowStack, TowerKind tower = TowerKind.InceptionV1)
        => FrameTower.WithImageNet(new TwoStream2d(numClasses, inChannels, flowStack, tower), path, n => n.tower);
}

/// <summary>The paper's 2-D Two-Stream network (section 2.3, Table 1 (c)) as a <see cref="VideoBackbone"/>, with the
/// paper's Inception-v1 towers or ResNet-18 ones.</summary>
/// <param name="tower">The 2-D network of both towers.</param>
public sealed class TwoStream2dBackbone(TowerKind tower = TowerKind.InceptionV1) : VideoBackbone
{
    /// <inheritdoc/>
    public override string Name => FrameTower.ArchitectureName(nameof(TwoStream2d), tower);

    /// <inheritdoc/>
    public override string CliName => FrameTower.ArchitectureCliName("two-stream", tower);

    /// <inheritdoc/>
    public override string Summary => tower == TowerKind.InceptionV1
        ? "Two-Stream: 2-D Inception-v1 on single RGB frames and on stacks of 10 flow frames, scores summed (Table 1 (c): 12M parameters with both towers; 1 RGB + 10 flow frames at training, 25 snapshots averaged at test)"
        : "Two-Stream with ResNet-18 towers (ImageNet start from ResNet18.onnx; not in the paper): Table 1 (c)'s clips";

    /// <inheritdoc/>
    public override ClipProtocol Protocol(VideoStream stream)
        => new(Frames: stream == VideoStream.Rgb ? 1 : TwoStream2d.DefaultFlowStack, FrameStride: 1, CropSize: 224, TestViews: 25);

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build(int classes, int inChannels) => new TwoStream2d(classes, inChannels, tower: tower);

    /// <summary>Flow clips come in whole stacks of 10 frames.</summary>
    public override string? ExpectedShape(long[] shape)
        => shape[1] != 2 || shape[2] % TwoStream2d.DefaultFlowStack == 0 ? null : $"(N, 2, T, H, W) with T a multiple of {TwoStream2d.DefaultFlowStack} (stacks of {TwoStream2d.DefaultFlowStack} flow frames)";

    /// <inheritdoc/>
    public override string ClassifierPrefix => TwoStream2d.ClassifierPrefix;

    /// <inheritdoc/>
    public override bool HasImageNetStart => true;

    /// <inheritdoc/>
    public override bool IsImageNetFile(string path) => (tower == TowerKind.ResNet18) == IsOnnx(path);

    /// <summary>The tower's ImageNet file as it is (2-D): a torchvision GoogLeNet state_dict, or ResNet18.onnx; the flow
    /// tower's conv1 takes the RGB kernel averaged over its channels (TSN).</summary>
    public override IReadOnlyList<KeyValuePair<string, Tensor>> ImageNetWeights(string path, int inChannels)
    {
        using var net = TwoStream2d.FromImageNet(path, 1000, inChannels, tower: tower);
        return Copies(net);
    }

    /// <inheritdoc/>
    public override byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options) => ArchitectureExport.Export((TwoStream2d)module, options);
}
