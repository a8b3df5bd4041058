using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// The paper's 3D-Fused Two-Stream network (section 2.3 and Figure 2d, after Feichtenhofer et al. 2016): an RGB and an
/// optical flow Inception-v1 (ImageNet; or another <see cref="FrameTower"/>), the last feature maps before the average pool of both (1024 x 7 x 7 at 224
/// each) for 5 snippets, concatenated on channels (2048) and fused by a 3x3x3 convolution to 512 channels with
/// BatchNorm and ReLU, a 3x3x3 max pool, and a fully connected layer to the classes.
/// Input: ONE 5-channel clip (N, 5, K x L, H, W) in [-1, 1]: channels 0-2 RGB, 3-4 optical flow (x, y); K snippets of L
/// frames (the paper's 5 x 10 = 50: "5 consecutive RGB frames sampled 10 frames apart" with their flow snippets). The
/// RGB tower sees the centre frame of each snippet (frame k L + L / 2), the flow tower the snippet's L flow frames
/// stacked as 2L channels (x0, y0, x1, y1, ...; TSN's order, see <see cref="InceptionV1"/>).
/// Keys <c>rgb.*</c>, <c>flow.*</c> (torchvision GoogLeNet's without <c>fc</c>), <c>fusion_conv.weight</c>,
/// <c>fusion_bn.*</c>, <c>fc.*</c>.
/// </summary>
/// <remarks>
/// Where the paper is silent: the 3x3x3 max pool (section 2.3) gets stride 2 and padding 1 in every dimension (our
/// choice, so that 1 or 2 snippets still pool), the pooled map is averaged to 512 features before <c>fc</c> (global average, our choice;
/// a fixed flatten would fix the frame size). The fusion convolution has no bias (BatchNorm follows); its BatchNorm uses
/// eps 0.001 like the towers. New layers (fusion_conv, fc) start Gaussian with std 0.01 and zero bias (section 2.3:
/// "Gaussian initialization"; the std is our choice).
/// </remarks>
public sealed class Fused3dTwoStream : nn.Module<Tensor, Tensor>
{
    private readonly FrameTower rgb, flow;
    private readonly Conv3d fusion_conv;
    private readonly HeldBatchNorm fusion_bn;
    private readonly Linear fc;

    /// <summary>Fusion convolution channels (section 2.3).</summary>
    public const int FusionChannels = 512;

    /// <summary>Snippets per clip and frames per snippet (section 2.3 / Table 1: 5 RGB frames, 50 flow frames).</summary>
    public const int DefaultSnippets = 5, DefaultSnippetFrames = 10;

    /// <summary>The classifier's parameter-name prefix: what the paper's "Fixed" mode trains and a new class count replaces.</summary>
    public const string ClassifierPrefix = "fc.";

    /// <summary>Gaussian std of the new layers (our choice; the paper says Gaussian).</summary>
    public const double InitStd = 0.01;

    internal static readonly long[] PoolKernel = [3, 3, 3], PoolStride = [2, 2, 2], PoolPadding = [1, 1, 1];

    /// <summary>The network: two 2-D towers (random; ImageNet with <see cref="FrameTower.LoadImageNet"/>) and new fusion layers from Gaussian noise.</summary>
    /// <param name="numClasses">Classes of the classifier.</param>
    /// <param name="snippets">RGB frames (and flow snippets) per clip.</param>
    /// <param name="snippetFrames">Frames per flow snippet.</param>
    /// <param name="tower">The 2-D network of both towers (the paper's: Inception-v1).</param>
    public Fused3dTwoStream(int numClasses = 400, int snippets = DefaultSnippets, int snippetFrames = DefaultSnippetFrames, TowerKind tower = TowerKind.InceptionV1) : base(nameof(Fused3dTwoStream))
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses));
        if (snippets < 1) throw new ArgumentOutOfRangeException(nameof(snippets));
        if (snippetFrames < 1) throw new ArgumentOutOfRangeException(nameof(snippetFrames));
        NumClasses = numClasses;
        Snippets = snippets;
        SnippetFrames = snippetFrames;
        rgb = FrameTower.Create(tower, numClasses: 0, inChannels: 3);
        flow = FrameTower.Create(tower, numClasses: 0, inChannels: 2 * snippetFrames);
        fusion_conv = nn.Conv3d(2 * rgb.FeatureChannels, FusionChannels, 3, padding: 1, bias: false);
        fusion_bn = HeldBatchNorm.Over3d(FusionChannels, eps: BasicConv2d.BatchNormEps);
        fc = nn.Linear(FusionChannels, numClasses);
        using (no_grad())
        {
            fusion_conv.weight!.normal_(0, InitStd);
            fc.weight!.normal_(0, InitStd);
            fc.bias!.zero_();
        }
        RegisterComponents();
        rgb.NameLayers("rgb.");
        flow.NameLayers("flow.");
    }

    /// <summary>Classes of the classifier.</summary>
    public int NumClasses { get; }
    /// <summary>RGB frames (and flow snippets) per clip (section 2.3: 5).</summary>
    public int Snippets { get; }
    /// <summary>Frames per flow snippet, the spacing of the RGB frames (section 2.3: 10).</summary>
    public int SnippetFrames { get; }

    /// <summary>Input channels: 3 RGB + 2 optical flow.</summary>
    public const int InChannels = 5;

    /// <summary>Frames per clip: snippets x frames per snippet.</summary>
    public int Frames => Snippets * SnippetFrames;

    /// <summary>The RGB tower (3 channels).</summary>
    public FrameTower RgbTower => rgb;
    /// <summary>The flow tower (2 x snippet frames channels).</summary>
    public FrameTower FlowTower => flow;
    internal (Conv3d Conv, HeldBatchNorm Bn, Linear Fc) Head => (fusion_conv, fusion_bn, fc);

    /// <summary>Index of each snippet's centre frame (k L + L / 2).</summary>
    internal long[] CentreFrames => [.. Enumerable.Range(0, Snippets).Select(k => (long)(k * SnippetFrames + SnippetFrames / 2))];

    /// <inheritdoc/>
    public override Tensor forward(Tensor clip)
    {
        using var scope = NewDisposeScope();
        var y = Fused(clip);
        y = F.max_pool3d(y, PoolKernel, PoolStride, PoolPadding).mean([2, 3, 4]);
        return fc.forward(y).MoveToOuterDisposeScope();
    }

    /// <summary>The fusion layer's output (N, 512, K, h, w) after BatchNorm and ReLU, before the 3-D pool.</summary>
    public Tensor Fused(Tensor clip)
    {
        if (clip.dim() != 5 || clip.shape[1] != InChannels || clip.shape[2] != Frames)
            throw new ArgumentException($"Fused3dTwoStream takes clips (N, 5, {Frames}, H, W) (channels 0-2 RGB, 3-4 optical flow; {Snippets} snippets of {SnippetFrames} frames), not ({string.Join(", ", clip.shape)})");
        using var scope = NewDisposeScope();
        long n = clip.shape[0];
        using var centres = tensor(CentreFrames, device: clip.device);
        var frames = clip.narrow(1, 0, 3).index_select(2, centres);
        var a = Snippetwise(rgb.FeatureMap(FrameTower.Frames(frames)), n);
        var b = Snippetwise(flow.FeatureMap(FrameTower.FlowStacks(clip.narrow(1, 3, 2), SnippetFrames)), n);
        var y = Conv3dGuard.Conv3d(nameof(fusion_conv), cat([a, b], 1), fusion_conv.weight!, null, [1, 1, 1], [1, 1, 1]);
        return fusion_bn.forward(y).relu_().MoveToOuterDisposeScope();
    }

    /// <summary>Feature maps (N x K, C, h, w) as (N, C, K, h, w).</summary>
    private Tensor Snippetwise(Tensor maps, long n)
        => maps.view(n, Snippets, maps.shape[1], maps.shape[2], maps.shape[3]).permute(0, 2, 1, 3, 4);

    /// <summary>Both towers from ImageNet (section 2.3; the flow conv1 as TSN, see <see cref="FrameTower.LoadImageNet"/>);
    /// fusion layers and fc fresh.</summary>
    public static Fused3dTwoStream FromImageNet(string path, int numClasses = 400, int snippets = DefaultSnippets, int snippetFrames = DefaultSnippetFrames, TowerKind tower = TowerKind.InceptionV1)
        => FrameTower.WithImageNet(new Fused3dTwoStream(numClasses, snippets, snippetFrames, tower), path, n => n.rgb, n => n.flow);
}

/// <summary>The paper's 3D-Fused Two-Stream network (section 2.3, Table 1 (d)) as a <see cref="VideoBackbone"/>: one
/// network on RGB and flow together, with the paper's Inception-v1 towers or ResNet-18 ones.</summary>
/// <param name="tower">The 2-D network of both towers.</param>
public sealed class Fused3dTwoStreamBackbone(TowerKind tower = TowerKind.InceptionV1) : VideoBackbone
{
    /// <inheritdoc/>
    public override string Name => FrameTower.ArchitectureName(nameof(Fused3dTwoStream), tower);

    /// <inheritdoc/>
    public override string CliName => FrameTower.ArchitectureCliName("3d-fused", tower);

    /// <inheritdoc/>
    public override string Summary => tower == TowerKind.InceptionV1
        ? "3D-Fused Two-Stream: 2-D Inception-v1 towers on 5 RGB frames 10 apart and their 10-frame flow snippets, the last feature maps fused by a 3x3x3 convolution, trained end to end on RGB and flow together (Table 1 (d): 39M parameters; 5 RGB + 50 flow frames at training, 25 + 250 at test: 5 clips averaged)"
        : "3D-Fused Two-Stream with ResNet-18 towers (ImageNet start from ResNet18.onnx; not in the paper): Table 1 (d)'s clips";

    /// <inheritdoc/>
    public override IReadOnlyList<VideoStream> Streams => [VideoStream.RgbAndFlow];

    /// <inheritdoc/>
    public override ClipProtocol Protocol(VideoStream stream)
        => new(Frames: Fused3dTwoStream.DefaultSnippets * Fused3dTwoStream.DefaultSnippetFrames, FrameStride: 1, CropSize: 224, TestViews: 5);

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build(int classes, int inChannels)
        => inChannels == Fused3dTwoStream.InChannels ? new Fused3dTwoStream(classes, tower: tower)
            : throw new ArgumentException($"{Name} takes RGB and flow together ({Fused3dTwoStream.InChannels} channels), not {inChannels}");

    /// <summary>5 snippets of 10 frames, RGB and flow channels joined.</summary>
    public override string? ExpectedShape(long[] shape)
    {
        int frames = Fused3dTwoStream.DefaultSnippets * Fused3dTwoStream.DefaultSnippetFrames;
        return shape[1] == Fused3dTwoStream.InChannels && shape[2] == frames ? null : $"(N, {Fused3dTwoStream.InChannels}, {frames}, H, W) (RGB + flow joined, {Fused3dTwoStream.DefaultSnippets} snippets of {Fused3dTwoStream.DefaultSnippetFrames} frames)";
    }

    /// <inheritdoc/>
    public override string ClassifierPrefix => Fused3dTwoStream.ClassifierPrefix;

    /// <inheritdoc/>
    public override bool HasImageNetStart => true;

    /// <inheritdoc/>
    public override bool IsImageNetFile(string path) => (tower == TowerKind.ResNet18) == IsOnnx(path);

    /// <summary>The towers' ImageNet file for both (2-D, as it is: a torchvision GoogLeNet state_dict, or ResNet18.onnx; the
    /// flow tower's conv1 averaged over RGB, TSN); the fusion layers stay Gaussian.</summary>
    public override IReadOnlyList<KeyValuePair<string, Tensor>> ImageNetWeights(string path, int inChannels)
    {
        using var net = Fused3dTwoStream.FromImageNet(path, 1, tower: tower);
        return Copies(net);
    }

    /// <inheritdoc/>
    public override byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options) => ArchitectureExport.Export((Fused3dTwoStream)module, options);
}
