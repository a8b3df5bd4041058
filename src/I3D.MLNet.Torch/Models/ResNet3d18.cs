using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Inflation;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// An inflated ResNet-18 ("I3D-ResNet18" backbone): He et al.'s ResNet-18 with its 7x7 stem made 5x7x7 (temporal
/// stride 2), every 3x3 convolution 3x3x3 and every 1x1 convolution 1x1x1, as section 2.4 of the I3D paper ("Bootstrapping 3D filters from 2D Filters") inflates
/// Inception-v1. Spatial padding follows the CNTK ImageNet model it is bootstrapped from (ResNet18.onnx: the extra
/// row of a stride-2 layer at the start); temporal padding repeats the edge frames, so a video of one repeated image
/// gives exactly the 2-D network's features (the paper's "boring video" fixed point holds at the clip ends too).
/// Input (N, C, T, H, W) preprocessed as the 2-D model expects; output the 512-d pooled features, or class scores
/// when built with <c>numClasses &gt; 0</c> (a new linear layer <c>fc</c>).
/// </summary>
public sealed class ResNet3d18 : nn.Module<Tensor, Tensor>
{
    /// <summary>Channels of the pooled features.</summary>
    public const int FeatureChannels = 512;

    /// <summary>The CNTK ResNet-18 of ResNet18.onnx was trained on mean-subtracted 0..255 pixels: [-1, 1] x 127.5 is that
    /// range, centred on mid-grey (its BatchNorms adapt to the small offset while fine-tuning).</summary>
    public const float CntkInputScale = 127.5f;

    private readonly Conv3d conv1;
    private readonly HeldBatchNorm bn1;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly Linear? fc;

    /// <summary>The network with random weights.</summary>
    /// <param name="numClasses">Classes of a new linear classifier <c>fc</c>; 0 for none (features out).</param>
    /// <param name="inChannels">3 for RGB, 2 for optical flow.</param>
    /// <param name="blocksPerLayer">Basic blocks in each of the four stages: 2, 2, 2, 2 in He et al.'s ResNet-18;
    /// the CNTK model in Microsoft.ML.DnnImageFeaturizer.ResNet18 has 2, 2, 2, 3.</param>
    public ResNet3d18(int numClasses = 0, int inChannels = 3, int[]? blocksPerLayer = null) : base(nameof(ResNet3d18))
    {
        BlocksPerLayer = blocksPerLayer ?? [2, 2, 2, 2];
        conv1 = nn.Conv3d(inChannels, 64, (5, 7, 7), stride: (2, 2, 2), bias: false);
        bn1 = HeldBatchNorm.Over3d(64, eps: 1e-5);
        var stages = Layers(BlocksPerLayer, temporalKernel: 3);
        (layer1, layer2, layer3, layer4) = (stages[0], stages[1], stages[2], stages[3]);
        if (numClasses > 0) fc = nn.Linear(FeatureChannels, numClasses);
        NumClasses = numClasses;
        RegisterComponents();
        NameBlocks(this, "");
    }

    private Sequential[] Stages => [layer1, layer2, layer3, layer4];

    /// <summary>Classes of the classifier; 0 when there is none (features out).</summary>
    public int NumClasses { get; }
    /// <summary>Basic blocks in each of the four stages.</summary>
    public int[] BlocksPerLayer { get; }

    /// <summary>The stem, the four stages' blocks in order and the classifier (for export).</summary>
    internal (Conv3d Conv, HeldBatchNorm Bn, IEnumerable<BasicBlock3d> Blocks, Linear? Fc) Parts
        => (conv1, bn1, Blocks(Stages), fc);

    /// <summary>A stage of <paramref name="blocks"/> basic blocks, the first with <paramref name="stride"/> (and the projection).</summary>
    internal static Sequential Layer(long inChannels, long outChannels, long stride, int blocks, long temporalKernel = 3) =>
        nn.Sequential(Enumerable.Range(0, blocks).Select(i => (i.ToString(System.Globalization.CultureInfo.InvariantCulture),
            (nn.Module<Tensor, Tensor>)new BasicBlock3d(i == 0 ? inChannels : outChannels, outChannels, i == 0 ? stride : 1, temporalKernel))));

    /// <summary>The four stages (64, 128, 256, 512 channels; stride 1, 2, 2, 2) of <paramref name="blocksPerLayer"/> blocks.</summary>
    internal static Sequential[] Layers(int[] blocksPerLayer, long temporalKernel)
    {
        if (blocksPerLayer.Length != 4 || blocksPerLayer.Any(b => b < 1)) throw new ArgumentException("four stages of at least one block", nameof(blocksPerLayer));
        return [Layer(64, 64, 1, blocksPerLayer[0], temporalKernel), Layer(64, 128, 2, blocksPerLayer[1], temporalKernel),
            Layer(128, 256, 2, blocksPerLayer[2], temporalKernel), Layer(256, 512, 2, blocksPerLayer[3], temporalKernel)];
    }

    /// <summary>Gives each block its module path (<c>layer2.0</c>) under <paramref name="prefix"/>, for the convolution check's notices.</summary>
    internal static void NameBlocks(nn.Module root, string prefix)
    {
        foreach (var (name, module) in root.named_modules())
            if (module is BasicBlock3d block) block.LayerName = prefix + name;
    }

    /// <summary>Stem (conv1, BatchNorm, ReLU, 1x3x3 max pool) and the four stages: the last block's output (N, 512, t, h, w).</summary>
    internal static Tensor Trunk(Conv3d conv1, HeldBatchNorm bn1, Sequential[] layers, Tensor x, string prefix)
    {
        using var scope = NewDisposeScope();
        var y = BasicBlock3d.Conv(conv1, x, 2, prefix + "conv1");
        y = bn1.forward(y).relu_();
        // 1x3x3 max pool, stride (1, 2, 2), padding 1 at the start only (after a ReLU, zero padding = no padding).
        y = F.max_pool3d(F.pad(y, [1, 0, 1, 0, 0, 0]), [1, 3, 3], [1, 2, 2]);
        foreach (var layer in layers) y = layer.forward(y);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Each convolution with its BatchNorm, spatial stride and padding, in the order of ResNet18.onnx's graph.</summary>
    internal static IEnumerable<(string Name, Conv3d Conv, HeldBatchNorm Bn, long Stride)> ConvolutionsInOnnxOrder(Conv3d conv1, HeldBatchNorm bn1, Sequential[] layers)
    {
        yield return ("conv1", conv1, bn1, 2);
        for (int i = 0; i < layers.Length; i++)
            foreach (var (blockName, block) in layers[i].named_children())
                foreach (var c in ((BasicBlock3d)block).Convolutions())
                    yield return ($"layer{i + 1}.{blockName}.{c.Name}", c.Conv, c.Bn, c.Stride);
    }

    /// <summary>The blocks of the four stages in order.</summary>
    internal static IEnumerable<BasicBlock3d> Blocks(Sequential[] layers) => layers.SelectMany(l => l.children().Cast<BasicBlock3d>());

    /// <summary>Class scores (N, classes) with a classifier, else the pooled features (N, 512).</summary>
    public override Tensor forward(Tensor x)
    {
        if (fc is null) return Features(x);
        using var f = Features(x);
        return fc.forward(f);
    }

    /// <summary>Global average of the last block's output over time and space: (N, 512).</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Trunk(conv1, bn1, Stages, x, "").mean([2, 3, 4]).MoveToOuterDisposeScope();
    }

    /// <summary>Each convolution with its BatchNorm, spatial stride and padding, in the order of ResNet18.onnx's graph.</summary>
    internal IEnumerable<(string Name, Conv3d Conv, HeldBatchNorm Bn, long Stride)> ConvolutionsInOnnxOrder() => ConvolutionsInOnnxOrder(conv1, bn1, Stages);
}

/// <summary>ResNet's basic block with 3x3x3 convolutions and a 1x1x1 projection shortcut where the shape changes.</summary>
public sealed class BasicBlock3d : nn.Module<Tensor, Tensor>
{
    private readonly Conv3d conv1, conv2;
    private readonly HeldBatchNorm bn1, bn2;
    private readonly Sequential? downsample;
    private readonly long stride;

    /// <summary>Two 3x3x3 convolutions with BatchNorm and a shortcut (a 1x1x1 projection when the shape changes).</summary>
    /// <param name="inChannels">Channels in.</param>
    /// <param name="outChannels">Channels out.</param>
    /// <param name="stride">Spatial stride of the first convolution and the projection.</param>
    /// <param name="temporalKernel">Time extent of the 3x3 convolutions: 3 inflated, 1 for the 2-D network applied to each frame.</param>
    public BasicBlock3d(long inChannels, long outChannels, long stride, long temporalKernel = 3) : base(nameof(BasicBlock3d))
    {
        this.stride = stride;
        conv1 = nn.Conv3d(inChannels, outChannels, (temporalKernel, 3, 3), stride: (1, stride, stride), bias: false);
        bn1 = HeldBatchNorm.Over3d(outChannels, eps: 1e-5);
        conv2 = nn.Conv3d(outChannels, outChannels, (temporalKernel, 3, 3), bias: false);
        bn2 = HeldBatchNorm.Over3d(outChannels, eps: 1e-5);
        if (stride != 1 || inChannels != outChannels)
            downsample = nn.Sequential(
                ("0", nn.Conv3d(inChannels, outChannels, (1, 1, 1), stride: (1, stride, stride), bias: false)),
                ("1", HeldBatchNorm.Over3d(outChannels, eps: 1e-5)));
        RegisterComponents();
    }

    /// <summary>The module path in the network (<c>layer2.0</c>), named by the convolution check's notices.</summary>
    internal string LayerName { get; set; } = nameof(BasicBlock3d);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = bn1.forward(Conv(conv1, x, stride, $"{LayerName}.conv1")).relu_();
        y = bn2.forward(Conv(conv2, y, 1, $"{LayerName}.conv2"));
        var shortcut = x;
        if (Shortcut is { } projection) shortcut = projection.Bn.forward(Conv(projection.Conv, x, stride, $"{LayerName}.downsample.0"));
        return y.PlusInPlace(shortcut).relu_().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// CNTK's spatial zero padding of the ImageNet model the network is bootstrapped from: k / 2 at the start, and at the
    /// end what gives ceil(size / stride) outputs - k / 2 - (stride - 1) for even sizes (what ResNet18.onnx's pads say),
    /// one more for odd ones, so a stride-2 block's output matches its 1x1x1 shortcut's at any size. Without a size: the
    /// even-size rule (the exporter's and the inflation's, whose sizes are even).
    /// </summary>
    internal static (long Begin, long End) CntkPadding(long kernel, long stride, long? size = null)
    {
        long begin = kernel / 2;
        long n = size ?? 2 * stride * kernel;
        long outputs = (n + stride - 1) / stride;
        return (begin, Math.Max((outputs - 1) * stride + kernel - n - begin, 0));
    }

    /// <summary>Convolution with the edge frames repeated in time (kt / 2 each side) and <see cref="CntkPadding"/> in space.</summary>
    internal static Tensor Conv(Conv3d conv, Tensor x, long spatialStride, string layer)
    {
        long[] k = conv.weight!.shape[2..];
        long t = k[0] / 2;
        var (top, bottom) = CntkPadding(k[1], spatialStride, x.shape[3]);
        var (left, right) = CntkPadding(k[2], spatialStride, x.shape[4]);
        using var scope = NewDisposeScope();
        var y = t > 0 ? F.pad(x, [0, 0, 0, 0, t, t], PaddingModes.Replicate) : x;
        if (top + bottom + left + right > 0) y = F.pad(y, [left, right, top, bottom, 0, 0]);
        return Conv3dGuard.Conv3d(layer, y, conv.weight!, conv.bias, conv.stride, [0, 0, 0]).MoveToOuterDisposeScope();
    }

    /// <summary>conv1+bn1, conv2+bn2, the projection shortcut (or null) and the spatial stride (for export).</summary>
    internal (Conv3d Conv1, HeldBatchNorm Bn1, Conv3d Conv2, HeldBatchNorm Bn2, (Conv3d Conv, HeldBatchNorm Bn)? Shortcut, long Stride) Parts
        => (conv1, bn1, conv2, bn2, Shortcut, stride);

    /// <summary>The 1x1x1 projection (<c>downsample.0</c>, <c>downsample.1</c>) where the shape changes, else null.</summary>
    private (Conv3d Conv, HeldBatchNorm Bn)? Shortcut =>
        downsample is null ? null : ((Conv3d)downsample.children().First(), (HeldBatchNorm)downsample.children().Last());

    internal IEnumerable<(string Name, Conv3d Conv, HeldBatchNorm Bn, long Stride)> Convolutions()
    {
        // ResNet18.onnx lists the projection shortcut before the block's first convolution.
        if (Shortcut is { } projection) yield return ("downsample", projection.Conv, projection.Bn, stride);
        yield return ("conv1", conv1, bn1, stride);
        yield return ("conv2", conv2, bn2, 1);
    }
}

/// <summary>An inflated ResNet-18 (not in the paper: a lighter network with an offline ImageNet start) as a <see cref="VideoBackbone"/>.</summary>
public sealed class ResNet3d18Backbone : VideoBackbone
{
    /// <inheritdoc/>
    public override string Name => "ResNet18";

    /// <inheritdoc/>
    public override string CliName => "resnet18";

    /// <inheritdoc/>
    public override string Summary => "Inflated ResNet-18 (I3D's recipe on ResNet-18, the 2, 2, 2, 3 blocks of Microsoft.ML.DnnImageFeaturizer.ResNet18): one network per stream, scores summed";

    /// <inheritdoc/>
    public override ClipProtocol Protocol(VideoStream stream) => new(Frames: 64, FrameStride: 1, CropSize: 224, TestViews: 1);

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build(int classes, int inChannels) => new ResNet3d18(classes, inChannels, [2, 2, 2, 3]);

    /// <inheritdoc/>
    public override string ClassifierPrefix => "fc.";

    /// <summary><see cref="ResNet3d18.CntkInputScale"/>: the range the CNTK ResNet-18 it is inflated from was trained on.</summary>
    public override float InputScale => ResNet3d18.CntkInputScale;

    /// <inheritdoc/>
    public override bool HasImageNetStart => true;

    /// <inheritdoc/>
    public override bool IsImageNetFile(string path) => IsOnnx(path);

    /// <summary>ResNet18.onnx (Microsoft.ML.DnnImageFeaturizer.ResNet18) inflated (section 2.3).</summary>
    public override IReadOnlyList<KeyValuePair<string, Tensor>> ImageNetWeights(string path, int inChannels)
    {
        using var inflated = ResNet18Inflation.FromOnnx(path);
        return WithInputChannels(inflated, "conv1.weight", inChannels);
    }

    /// <inheritdoc/>
    public override byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options) => OnnxExporter.Export((ResNet3d18)module, options, InputScale);
}
