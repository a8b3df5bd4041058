using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Inflation;
using I3D.MLNet.Torch.Inflation.Onnx;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// The 2-D ImageNet ResNet-18 of ResNet18.onnx (the CNTK model the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18
/// ships; blocks 2, 2, 2, 3) as a tower of the 2-D architectures: an offline ImageNet start for ConvNet+LSTM, Two-Stream
/// and 3D-Fused in place of the paper's Inception-v1 (not in the paper). The same layers as <see cref="ResNet3d18"/>
/// with a time extent of 1 (a 1x7x7 stem of time stride 1 and 1x3x3 blocks), so each frame is computed on its own and the
/// ONNX weights load as they are; keys <c>conv1.weight</c>, <c>bn1.*</c>, <c>layer1.0.conv1.weight</c>, ..., <c>fc.*</c>.
/// Input: images (N, C, H, W) in [-1, 1], multiplied by <see cref="ResNet3d18.CntkInputScale"/> inside (the pixel range
/// of the CNTK weights); no dropout before <c>fc</c> (ResNet has none).
/// </summary>
public sealed class ResNet18Tower : FrameTower
{
    private readonly Conv3d conv1;
    private readonly HeldBatchNorm bn1;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly Linear? fc;

    /// <summary>Basic blocks per stage of the CNTK ResNet-18 in ResNet18.onnx.</summary>
    internal static readonly int[] CntkBlocks = [2, 2, 2, 3];

    /// <param name="numClasses">Classes of <c>fc</c>; 0: no classifier (features out).</param>
    /// <param name="inChannels">3 for RGB; 2 x L for a stack of L optical flow frames.</param>
    public ResNet18Tower(int numClasses = 0, int inChannels = 3) : base(nameof(ResNet18Tower))
    {
        if (numClasses < 0) throw new ArgumentOutOfRangeException(nameof(numClasses));
        if (inChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels));
        NumClasses = numClasses;
        InChannels = inChannels;
        conv1 = nn.Conv3d(inChannels, 64, (1, 7, 7), stride: (1, 2, 2), bias: false);
        bn1 = HeldBatchNorm.Over3d(64, eps: 1e-5);
        var stages = ResNet3d18.Layers(CntkBlocks, temporalKernel: 1);
        (layer1, layer2, layer3, layer4) = (stages[0], stages[1], stages[2], stages[3]);
        if (numClasses > 0) fc = nn.Linear(ResNet3d18.FeatureChannels, numClasses);
        RegisterComponents();
        NameLayers("");
    }

    private Sequential[] Stages => [layer1, layer2, layer3, layer4];

    /// <inheritdoc/>
    public override TowerKind Kind => TowerKind.ResNet18;
    /// <inheritdoc/>
    public override int NumClasses { get; }
    /// <inheritdoc/>
    public override int InChannels { get; }
    /// <inheritdoc/>
    public override int FeatureChannels => ResNet3d18.FeatureChannels;

    internal override Linear? Classifier => fc;

    /// <summary>Logits (N, classes) of images (N, C, H, W).</summary>
    public override Tensor forward(Tensor images)
    {
        if (fc is null) throw new InvalidOperationException("this ResNet18Tower has no classifier (built with numClasses 0): use Features");
        using var scope = NewDisposeScope();
        return fc.forward(Features(images)).MoveToOuterDisposeScope();
    }

    /// <summary>The last block's output (N, 512, H/32, W/32): 7x7 at 224.</summary>
    public override Tensor FeatureMap(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != InChannels)
            throw new ArgumentException($"ResNet18Tower takes images (N, {InChannels}, H, W), not ({string.Join(", ", images.shape)})");
        using var scope = NewDisposeScope();
        using var scaled = images.Times(ResNet3d18.CntkInputScale);
        return ResNet3d18.Trunk(conv1, bn1, Stages, scaled.unsqueeze(2), LayerPrefix).squeeze(2).MoveToOuterDisposeScope();
    }

    private string LayerPrefix { get; set; } = "";

    internal override void NameLayers(string prefix)
    {
        LayerPrefix = prefix;
        ResNet3d18.NameBlocks(this, prefix);
    }

    /// <summary>
    /// ResNet18.onnx (Microsoft.ML.DnnImageFeaturizer.ResNet18): every convolution and BatchNorm as it is (2-D, no
    /// inflation); the graph's structure, strides and pads are checked, another network is refused with the first
    /// difference. A first convolution of other than 3 channels takes the RGB filters averaged over the colours and
    /// repeated (TSN's cross-modality initialisation); <c>fc</c> keeps its fresh initialisation (the file has none).
    /// </summary>
    public override void LoadImageNet(string path)
    {
        var graph = OnnxGraph.Read(path);
        var blocks = ResNet18Inflation.BlocksPerStage(graph);
        if (!blocks.SequenceEqual(CntkBlocks))
            throw new InvalidDataException($"{path}: stages of {string.Join(", ", blocks)} blocks; the tower is the CNTK ResNet-18 of {string.Join(", ", CntkBlocks)}");
        if (InChannels == 3)
        {
            ResNet18Inflation.Load(graph, ConvolutionsInOnnxOrder().ToList());
            return;
        }
        using var rgb = new ResNet18Tower(0, 3);
        ResNet18Inflation.Load(graph, rgb.ConvolutionsInOnnxOrder().ToList());
        using var _ = no_grad();
        var targets = state_dict();
        foreach (var (key, value) in rgb.state_dict())
        {
            if (key == "conv1.weight")
            {
                using var averaged = VideoBackbone.AveragedOverChannels(value, InChannels);
                targets[key].copy_(averaged);
            }
            else targets[key].copy_(value);
        }
    }

    private IEnumerable<(string Name, Conv3d Conv, HeldBatchNorm Bn, long Stride)> ConvolutionsInOnnxOrder() => ResNet3d18.ConvolutionsInOnnxOrder(conv1, bn1, Stages);

    internal override string ExportFeatureMaps(OnnxModelBuilder b, string prefix, string x, long size)
    {
        // The graph's pads are CNTK's for even sizes at every stride-2 stage (BasicBlock3d.CntkPadding without a size).
        if (size % 32 != 0) throw new ArgumentException($"a ResNet-18 tower takes frames whose size is a multiple of 32 (e.g. 224), not {size}");
        var scaled = b.Node("Mul", $"{prefix}.scaled", [x, b.FloatScalar($"{prefix}.input_scale", ResNet3d18.CntkInputScale)]);
        return OnnxExporter.ResNetTrunk(b, prefix, conv1, bn1, ResNet3d18.Blocks(Stages), scaled);
    }
}
