using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// Conv2d (no bias) + BatchNorm2d (eps 0.001) + ReLU: torchvision's <c>BasicConv2d</c>, with the same field names
/// (state_dict keys <c>conv.weight</c>, <c>bn.running_var</c>, ...).
/// </summary>
/// <remarks>
/// The convolution is computed as a 3-D convolution of kernel depth 1 through <see cref="Conv3dGuard"/>: libtorch
/// 2.10's oneDNN float32 <c>conv2d</c> has the same fault as its <c>conv3d</c> on the AMD Zen 5 machine (3x3, 24 or
/// 40 input channels, batch 2: relative error 1.9e-1 and 1.5e-1 vs float64, measured by
/// Conv2dNumericsArchitecturesTests; batch 1 and 16 channels 2e-7), so the guard's probe covers the 2-D networks too.
/// </remarks>
public sealed class BasicConv2d : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly HeldBatchNorm bn;

    /// <summary>A kxk convolution (no bias) + BatchNorm (eps 0.001) + ReLU, as torchvision's BasicConv2d.</summary>
    public BasicConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0)
        : base(nameof(BasicConv2d))
    {
        conv = nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, bias: false);
        bn = HeldBatchNorm.Over2d(outChannels, eps: BatchNormEps);
        Kernel = kernel;
        Stride = stride;
        Padding = padding;
        RegisterComponents();
    }

    /// <summary>torchvision's BasicConv2d epsilon (the TensorFlow Inception-v1 weights' value).</summary>
    public const double BatchNormEps = 0.001;

    /// <summary>The convolution (weights <c>conv.weight</c>).</summary>
    public Conv2d Conv => conv;
    /// <summary>The BatchNorm after it.</summary>
    public BatchNorm BatchNorm => bn;
    internal long Kernel { get; }
    internal long Stride { get; }
    internal long Padding { get; }

    /// <summary>The module path (<c>inception4b.branch3.1</c>), named by the convolution check's notices.</summary>
    internal string LayerName { get; set; } = nameof(BasicConv2d);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // As a 1 x k x k conv3d through the guard: the flow tower's conv1 (20 channels, 7x7, stride 2) is wrong in float32
        // on the AMD Zen 5 machine from 3 output positions on, which the guard's probe measures (Conv2dNumericsArchitecturesTests).
        var y = Conv3dGuard.Conv3d(LayerName, x.unsqueeze(2), conv.weight!.unsqueeze(2), null, [1, Stride, Stride], [0, Padding, Padding]).squeeze(2);
        return bn.forward(y).relu_().MoveToOuterDisposeScope();
    }
}

/// <summary>
/// torchvision's GoogLeNet <c>Inception</c> block: 1x1; 1x1 then 3x3; 1x1 then 3x3 (torchvision's "5x5" branch is
/// 3x3, as in the TensorFlow weights it was ported from); 3x3 max pool (stride 1, pad 1, ceil mode) then 1x1.
/// Keys <c>branch1.*</c>, <c>branch2.0.*</c>, <c>branch2.1.*</c>, <c>branch3.0.*</c>, <c>branch3.1.*</c>, <c>branch4.1.*</c>.
/// </summary>
public sealed class InceptionBlock2d : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1;
    private readonly Sequential branch2, branch3, branch4;
    private readonly BasicConv2d[] convs;

    /// <param name="inChannels">Channels of the input.</param>
    /// <param name="c">Output channels: 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (a 3x3), pool projection.</param>
    public InceptionBlock2d(long inChannels, params long[] c) : base(nameof(InceptionBlock2d))
    {
        convs = [new(inChannels, c[0], 1), new(inChannels, c[1], 1), new(c[1], c[2], 3, padding: 1),
            new(inChannels, c[3], 1), new(c[3], c[4], 3, padding: 1), new(inChannels, c[5], 1)];
        branch1 = convs[0];
        branch2 = nn.Sequential(convs[1], convs[2]);
        branch3 = nn.Sequential(convs[3], convs[4]);
        branch4 = nn.Sequential(nn.MaxPool2d(3, stride: 1, padding: 1, ceil_mode: true), convs[5]);
        OutChannels = c[0] + c[2] + c[4] + c[5];
        RegisterComponents();
    }

    /// <summary>Channels of the concatenated output.</summary>
    public long OutChannels { get; }

    /// <summary>branch1; branch2.0, branch2.1; branch3.0, branch3.1; branch4.1 (for export).</summary>
    internal (BasicConv2d B1, BasicConv2d B2a, BasicConv2d B2b, BasicConv2d B3a, BasicConv2d B3b, BasicConv2d B4) Branches
        => (convs[0], convs[1], convs[2], convs[3], convs[4], convs[5]);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return cat([branch1.forward(x), branch2.forward(x), branch3.forward(x), branch4.forward(x)], 1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Inception-v1 with BatchNorm (Szegedy et al. 2015; the ImageNet backbone of the paper's ConvNet+LSTM, Two-Stream and
/// 3D-Fused networks, section 2 and Table 1), laid out exactly as torchvision's <c>GoogLeNet</c> without auxiliary
/// classifiers: same modules, same state_dict keys (<c>conv1.conv.weight</c>, <c>inception3a.branch2.0.conv.weight</c>,
/// ..., <c>fc.weight</c>), same forward with <c>transform_input=False</c> (ceil-mode max pools, global average pool,
/// dropout 0.2, fc). Input: images (N, C, H, W) in [-1, 1]: torchvision's GoogLeNet weights were ported from TensorFlow
/// and take [-1, 1] (its <c>transform_input</c> maps ImageNet-normalized input there), so clips feed it as they are.
/// </summary>
public sealed class InceptionV1 : FrameTower
{
    private readonly BasicConv2d conv1;
    // torchvision's stem and stage pools: 3x3 stride 2 (maxpool4: 2x2 stride 2), ceil mode (Caffe's rounding, kept by torchvision).
    private readonly MaxPool2d maxpool1 = nn.MaxPool2d(3, stride: 2, ceil_mode: true);
    private readonly BasicConv2d conv2 = new(64, 64, 1);
    private readonly BasicConv2d conv3 = new(64, 192, 3, padding: 1);
    private readonly MaxPool2d maxpool2 = nn.MaxPool2d(3, stride: 2, ceil_mode: true);
    private readonly InceptionBlock2d inception3a = new(192, 64, 96, 128, 16, 32, 32);
    private readonly InceptionBlock2d inception3b = new(256, 128, 128, 192, 32, 96, 64);
    private readonly MaxPool2d maxpool3 = nn.MaxPool2d(3, stride: 2, ceil_mode: true);
    private readonly InceptionBlock2d inception4a = new(480, 192, 96, 208, 16, 48, 64);
    private readonly InceptionBlock2d inception4b = new(512, 160, 112, 224, 24, 64, 64);
    private readonly InceptionBlock2d inception4c = new(512, 128, 128, 256, 24, 64, 64);
    private readonly InceptionBlock2d inception4d = new(512, 112, 144, 288, 32, 64, 64);
    private readonly InceptionBlock2d inception4e = new(528, 256, 160, 320, 32, 128, 128);
    private readonly MaxPool2d maxpool4 = nn.MaxPool2d(2, stride: 2, ceil_mode: true);
    private readonly InceptionBlock2d inception5a = new(832, 256, 160, 320, 32, 128, 128);
    private readonly InceptionBlock2d inception5b = new(832, 384, 192, 384, 48, 128, 128);
    private readonly Dropout dropout = nn.Dropout(0.2);
    private readonly Linear? fc;

    private readonly (string Name, nn.Module<Tensor, Tensor> Module)[] layers;

    /// <summary>Channels of <c>inception5b</c>'s output and of the pooled features (the input of <c>fc</c>).</summary>
    public const int Channels = 1024;

    /// <param name="numClasses">Classes of <c>fc</c>; 0: no classifier (a backbone for <see cref="FrameTower.Features"/>).</param>
    /// <param name="inChannels">3 for RGB; 2 x L for a stack of L optical flow frames (the Two-Stream flow tower: 20).</param>
    public InceptionV1(int numClasses = 1000, int inChannels = 3) : base(nameof(InceptionV1))
    {
        if (numClasses < 0) throw new ArgumentOutOfRangeException(nameof(numClasses));
        if (inChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels));
        NumClasses = numClasses;
        InChannels = inChannels;
        conv1 = new BasicConv2d(inChannels, 64, 7, stride: 2, padding: 3);
        if (numClasses > 0) fc = nn.Linear(Channels, numClasses);
        layers =
        [
            (nameof(conv1), conv1), (nameof(maxpool1), maxpool1), (nameof(conv2), conv2), (nameof(conv3), conv3),
            (nameof(maxpool2), maxpool2), (nameof(inception3a), inception3a), (nameof(inception3b), inception3b),
            (nameof(maxpool3), maxpool3), (nameof(inception4a), inception4a), (nameof(inception4b), inception4b),
            (nameof(inception4c), inception4c), (nameof(inception4d), inception4d), (nameof(inception4e), inception4e),
            (nameof(maxpool4), maxpool4), (nameof(inception5a), inception5a), (nameof(inception5b), inception5b),
        ];
        RegisterComponents();
        NameLayers("");
    }

    /// <summary>Gives each convolution its module path (<c>inception4b.branch3.1</c>) for the convolution check's notices.</summary>
    internal override void NameLayers(string prefix)
    {
        foreach (var (name, module) in named_modules())
            if (module is BasicConv2d unit) unit.LayerName = prefix + name;
    }

    /// <inheritdoc/>
    public override TowerKind Kind => TowerKind.InceptionV1;
    /// <inheritdoc/>
    public override int NumClasses { get; }
    /// <inheritdoc/>
    public override int InChannels { get; }
    /// <inheritdoc/>
    public override int FeatureChannels => Channels;

    /// <summary>The kernel of a stage max pool (all stride 2, ceil mode), by layer name (for export).</summary>
    internal static long PoolKernel(string layer) => layer == nameof(maxpool4) ? 2 : 3;

    /// <summary>The layers up to <c>inception5b</c> in order (for export).</summary>
    internal IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Module)> Layers => layers;

    internal override Linear? Classifier => fc;

    /// <summary>Logits (N, classes) of images (N, C, H, W), torchvision's <c>GoogLeNet.forward</c> in eval mode.</summary>
    public override Tensor forward(Tensor x)
    {
        if (fc is null) throw new InvalidOperationException("this InceptionV1 has no classifier (built with numClasses 0): use Features");
        using var scope = NewDisposeScope();
        return fc.forward(dropout.forward(Features(x))).MoveToOuterDisposeScope();
    }

    /// <summary>The <c>inception5b</c> output before the last average pool (N, 1024, H/32, W/32): 7x7 at 224.</summary>
    public override Tensor FeatureMap(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != InChannels)
            throw new ArgumentException($"InceptionV1 takes images (N, {InChannels}, H, W), not ({string.Join(", ", x.shape)})");
        using var scope = NewDisposeScope();
        var y = x;
        foreach (var (_, module) in layers) y = module.forward(y);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads a torchvision GoogLeNet state_dict (zip or legacy <c>torch.save</c>): every key as is, the auxiliary
    /// classifiers (<c>aux1.*</c>, <c>aux2.*</c>) ignored. <c>fc</c> is loaded only when its shape matches (1000
    /// classes), else it keeps its fresh initialization. A <c>conv1</c> with other than 3 input channels takes the RGB
    /// kernel averaged over its channels and replicated to every input channel (the cross-modality initialization of
    /// TSN, Wang et al. 2016, yjxiong/tsn-pytorch <c>_construct_flow_model</c>; the paper does not say how, section 2.3).
    /// </summary>
    public void LoadGoogLeNet(string path)
    {
        var weights = TorchStateDict.Read(path);
        try
        {
            var targets = state_dict();
            var filled = new HashSet<string>();
            using var _ = no_grad();
            foreach (var (key, value) in weights)
            {
                if (key.StartsWith("aux1.", StringComparison.Ordinal) || key.StartsWith("aux2.", StringComparison.Ordinal)) continue;
                if (!targets.TryGetValue(key, out var target))
                {
                    if (key.StartsWith(ClassifierPrefix, StringComparison.Ordinal)) continue; // a backbone without fc
                    throw new WeightFileException($"{path}: '{key}' is not a torchvision GoogLeNet key");
                }
                if (key == "conv1.conv.weight" && InChannels != value.shape[1])
                {
                    using var averaged = Backbones.VideoBackbone.AveragedOverChannels(value, InChannels);
                    target.copy_(averaged);
                }
                else if (value.shape.SequenceEqual(target.shape)) target.copy_(value);
                else if (key.StartsWith(ClassifierPrefix, StringComparison.Ordinal)) continue; // another class count
                else throw new WeightFileException($"{path}: '{key}' has shape ({string.Join(", ", value.shape)}), InceptionV1 needs ({string.Join(", ", target.shape)})");
                filled.Add(key);
            }
            var missing = targets.Keys.Where(k => !filled.Contains(k) && !k.StartsWith(ClassifierPrefix, StringComparison.Ordinal)
                && !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
            if (missing.Count > 0)
                throw new WeightFileException($"{path}: not a complete torchvision GoogLeNet: {missing.Count} weights have no source ({string.Join(", ", missing.Take(8))})");
        }
        finally { foreach (var kv in weights) kv.Value.Dispose(); }
    }

    /// <summary>A torchvision GoogLeNet state_dict (<see cref="LoadGoogLeNet"/>).</summary>
    public override void LoadImageNet(string path) => LoadGoogLeNet(path);

    internal override string ExportFeatureMaps(OnnxModelBuilder b, string prefix, string x, long size) => ArchitectureExport.InceptionFeatureMaps(b, prefix, this, x);
}
