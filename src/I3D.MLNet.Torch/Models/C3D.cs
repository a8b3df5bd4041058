using Google.Protobuf;
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
/// The paper's 3D-ConvNet (section 2.2 and Figure 2b): C3D (Tran et al. 2015; facebook/C3D C3D-v1.0's layers) with
/// BatchNorm after every convolution and fully connected layer, and a temporal stride of 2 in the first pooling layer.
/// Trained from scratch (no ImageNet counterpart); 16 x 112 x 112 clips (Table 1), or another crop, for which fc6 is
/// sized (<see cref="Fc6InputsFor"/>: short CPU experiments train every architecture at one small crop). Keys <c>conv1a.weight</c>, <c>bn1a.weight</c>,
/// ..., <c>fc6.weight</c>, <c>bn6.running_var</c>, ..., <c>fc8.bias</c>.
/// </summary>
/// <remarks>
/// Layers: conv1a 64 | pool1 | conv2a 128 | pool2 | conv3a, conv3b 256 | pool3 | conv4a, conv4b 512 | pool4 | conv5a,
/// conv5b 512 | pool5 | fc6 4096 | fc7 4096 | fc8, every convolution 3x3x3 with padding 1 and followed by BatchNorm and
/// ReLU (section 2.5), fc6 and fc7 by BatchNorm1d, ReLU and dropout 0.5 (C3D's). The convolutions have no bias (the
/// BatchNorm after each has the shift). Initialization: TorchSharp's defaults (PyTorch's: Kaiming-uniform with
/// a = sqrt(5)), our choice; the paper does not say.
/// </remarks>
public sealed class C3D : nn.Module<Tensor, Tensor>
{
    /// <summary>Frames per clip (section 2.2).</summary>
    public const int Frames = 16;

    /// <summary>Frame height and width (section 2.2).</summary>
    public const int Size = 112;

    /// <summary>The smallest crop (pool5 then sees one position).</summary>
    public const int MinSize = 32;

    /// <summary>fc6's input for 16-frame clips of <paramref name="size"/> x <paramref name="size"/>: 512 channels x 1 x
    /// ceil(size / 32)^2 (five poolings of 2 that round up; 8192 at 112).</summary>
    public static int Fc6InputsFor(int size) => 512 * (int)Math.Pow((size + 31) / 32, 2);

    /// <summary>The classifier's parameter-name prefix: what the paper's "Fixed" mode trains and a new class count replaces.</summary>
    public const string ClassifierPrefix = "fc8.";

    private readonly Conv3d conv1a, conv2a, conv3a, conv3b, conv4a, conv4b, conv5a, conv5b;
    private readonly HeldBatchNorm bn1a, bn2a, bn3a, bn3b, bn4a, bn4b, bn5a, bn5b;
    private readonly Linear fc6, fc7, fc8;
    private readonly HeldBatchNorm bn6, bn7;
    private readonly Dropout dropout = nn.Dropout(0.5);

    private readonly (string Name, Conv3d Conv, HeldBatchNorm Bn, long[]? PoolAfter)[] stages;

    /// <summary>The network with random weights for clips of 16 x <paramref name="size"/> x <paramref name="size"/>
    /// (callers seed torch first; the paper trains it from scratch).</summary>
    public C3D(int numClasses = 400, int inChannels = 3, int size = Size) : base(nameof(C3D))
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses));
        if (inChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels));
        if (size < MinSize) throw new ArgumentOutOfRangeException(nameof(size), size, $"C3D takes crops of at least {MinSize}");
        NumClasses = numClasses;
        InChannels = inChannels;
        CropSize = size;
        static Conv3d Conv(long i, long o) => nn.Conv3d(i, o, 3, padding: 1, bias: false);
        static HeldBatchNorm Bn(long c) => HeldBatchNorm.Over3d(c);
        (conv1a, bn1a) = (Conv(inChannels, 64), Bn(64));
        (conv2a, bn2a) = (Conv(64, 128), Bn(128));
        (conv3a, bn3a, conv3b, bn3b) = (Conv(128, 256), Bn(256), Conv(256, 256), Bn(256));
        (conv4a, bn4a, conv4b, bn4b) = (Conv(256, 512), Bn(512), Conv(512, 512), Bn(512));
        (conv5a, bn5a, conv5b, bn5b) = (Conv(512, 512), Bn(512), Conv(512, 512), Bn(512));
        (fc6, bn6) = (nn.Linear(Fc6InputsFor(size), 4096), HeldBatchNorm.Over1d(4096));
        (fc7, bn7) = (nn.Linear(4096, 4096), HeldBatchNorm.Over1d(4096));
        fc8 = nn.Linear(4096, numClasses);
        // Pool kernels (= strides): pool1 2x2x2: section 2.2's temporal stride 2 (C3D's pool1 is 1x2x2, stride 1x2x2); the
        // paper does not give the kernel: we take a temporal kernel of 2 like pool2-pool5, so that no frame is skipped
        // (a 1x2x2 kernel with stride 2 in time would drop every other frame). pool2-pool5 2x2x2 (C3D). pool5 rounds up
        // (Caffe's ceil pooling, which C3D-v1.0 uses: 1x7x7 -> 1x4x4, fc6 sees 512 x 4 x 4 = 8192; mmaction2's c3d.py pads
        // pool5 by (0, 1, 1) instead, which fails here: after pool1's temporal stride only 1 frame reaches pool5).
        stages =
        [
            (nameof(conv1a), conv1a, bn1a, [2, 2, 2]), (nameof(conv2a), conv2a, bn2a, [2, 2, 2]),
            (nameof(conv3a), conv3a, bn3a, null), (nameof(conv3b), conv3b, bn3b, [2, 2, 2]),
            (nameof(conv4a), conv4a, bn4a, null), (nameof(conv4b), conv4b, bn4b, [2, 2, 2]),
            (nameof(conv5a), conv5a, bn5a, null), (nameof(conv5b), conv5b, bn5b, [2, 2, 2]),
        ];
        RegisterComponents();
    }

    /// <summary>Classes of fc8.</summary>
    public int NumClasses { get; }
    /// <summary>Input channels (3: RGB).</summary>
    public int InChannels { get; }
    /// <summary>Frame height and width of its clips (fc6 is sized for them): 112 unless built for another crop.</summary>
    public int CropSize { get; }

    /// <summary>The convolutions in order with their BatchNorm and the pool after them, if any (for export).</summary>
    internal IReadOnlyList<(string Name, Conv3d Conv, HeldBatchNorm Bn, long[]? PoolAfter)> Stages => stages;

    internal (Linear Fc6, HeldBatchNorm Bn6, Linear Fc7, HeldBatchNorm Bn7, Linear Fc8) Head => (fc6, bn6, fc7, bn7, fc8);

    /// <summary>Logits (N, classes) of one 16-frame clip each.</summary>
    public override Tensor forward(Tensor clip)
    {
        using var scope = NewDisposeScope();
        var y = Fc7(clip);
        return fc8.forward(dropout.forward(y)).MoveToOuterDisposeScope();
    }

    /// <summary>The fc7 activations (N, 4096) after BatchNorm and ReLU, before dropout (the classifier's input).</summary>
    public Tensor Fc7(Tensor clip)
    {
        if (clip.dim() != 5 || clip.shape[1] != InChannels || clip.shape[2] != Frames || clip.shape[3] != CropSize || clip.shape[4] != CropSize)
            throw new ArgumentException($"C3D takes clips (N, {InChannels}, {Frames}, {CropSize}, {CropSize}), not ({string.Join(", ", clip.shape)})");
        using var scope = NewDisposeScope();
        var y = clip;
        foreach (var (name, conv, bn, pool) in stages)
        {
            y = bn.forward(Conv3dGuard.Conv3d(name, y, conv.weight!, null, [1, 1, 1], [1, 1, 1])).relu_();
            // Every pool follows a ReLU; ceil mode only changes pool5 (the others divide evenly).
            if (pool is not null) y = F.max_pool3d(y, pool, pool, ceil_mode: true);
        }
        y = y.flatten(1);
        y = dropout.forward(bn6.forward(fc6.forward(y)).relu_());
        return bn7.forward(fc7.forward(y)).relu_().MoveToOuterDisposeScope();
    }
}

/// <summary>The paper's 3D-ConvNet (section 2.2, Table 1 (b)) as a <see cref="VideoBackbone"/>.</summary>
public sealed class C3DBackbone : VideoBackbone
{
    /// <inheritdoc/>
    public override string Name => nameof(C3D);

    /// <inheritdoc/>
    public override string CliName => "c3d";

    /// <inheritdoc/>
    public override string Summary => "3D-ConvNet: C3D (8 3x3x3 convolutions, 5 poolings, fc6/fc7 4096) with BatchNorm, from scratch, RGB (Table 1 (b): 79M parameters; 16 RGB frames at 112 x 112 at training, 240 at test: 15 clips of 16 averaged)";

    /// <inheritdoc/>
    public override IReadOnlyList<VideoStream> Streams => [VideoStream.Rgb];

    /// <inheritdoc/>
    public override ClipProtocol Protocol(VideoStream stream) => new(Frames: C3D.Frames, FrameStride: 1, CropSize: C3D.Size, TestViews: 15);

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build(int classes, int inChannels) => new C3D(classes, inChannels);

    /// <summary>fc6 sized for <paramref name="cropSize"/> (<see cref="C3D.Fc6InputsFor"/>).</summary>
    protected override nn.Module<Tensor, Tensor> BuildForCrop(int classes, int inChannels, int cropSize) => new C3D(classes, inChannels, cropSize);

    /// <inheritdoc/>
    public override int? CropSizeOf(nn.Module<Tensor, Tensor> module) => ((C3D)module).CropSize;

    /// <summary>16 frames (pool1-pool5 leave one position in time), square crops of at least 32 (fc6 is sized for the crop).</summary>
    public override string? ExpectedShape(long[] shape)
        => shape[2] == C3D.Frames && shape[3] == shape[4] && shape[3] >= C3D.MinSize ? null : $"(N, {shape[1]}, {C3D.Frames}, S, S) with S >= {C3D.MinSize} (Table 1: 112)";

    /// <inheritdoc/>
    public override string ClassifierPrefix => C3D.ClassifierPrefix;

    /// <summary>The graph of 16-frame clips of the network's crop (fixed in the graph; <see cref="OnnxExportOptions.Size"/> must be it): each
    /// convolution with its BatchNorm folded in, Caffe's rounded-up pools, fc6/fc7 with theirs, no dropout.</summary>
    public override byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options)
    {
        var net = (C3D)module;
        if (options.Size != net.CropSize) throw new ArgumentException($"this C3D takes {net.CropSize} x {net.CropSize} frames (fc6 sees {C3D.Fc6InputsFor(net.CropSize)} values), not {options.Size}");
        var (b, y) = OnnxExporter.Start(nameof(C3D), net.InChannels, options, (long)C3D.Frames);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (name, conv, bn, pool) in net.Stages)
        {
            var (w, bias) = OnnxExporter.Folded(conv, bn);
            using (w) using (bias)
                y = b.Node("Conv", name, [y, b.Initializer($"{name}.weight", w), b.Initializer($"{name}.bias", bias)],
                    OnnxModelBuilder.Ints("kernel_shape", 3, 3, 3), OnnxModelBuilder.Ints("pads", 1, 1, 1, 1, 1, 1));
            y = b.Node("Relu", $"{name}.relu", [y]);
            if (pool is not null)
                y = b.Node("MaxPool", $"{name}.pool", [y], OnnxModelBuilder.Ints("kernel_shape", pool), OnnxModelBuilder.Ints("strides", pool), OnnxModelBuilder.Int("ceil_mode", 1));
        }
        y = b.Node("Flatten", "flatten", [y], OnnxModelBuilder.Int("axis", 1));
        var (fc6, bn6, fc7, bn7, fc8) = net.Head;
        y = b.Node("Relu", "fc6.relu", [ArchitectureExport.Gemm(b, "fc6", fc6, bn6, y)]);
        y = b.Node("Relu", "fc7.relu", [ArchitectureExport.Gemm(b, "fc7", fc7, bn7, y)]);
        ArchitectureExport.Gemm(b, I3D.MLNet.Onnx.I3DOnnxFormat.OutputName, fc8, null, y);
        return OnnxExporter.Finish(b, Name, VideoStreams.OfChannels(net.InChannels).Name(), net.NumClasses, options,
            $"3D-ConvNet (C3D with BatchNorm; Carreira and Zisserman, CVPR 2017, section 2.2): clip [batch, {net.InChannels}, {C3D.Frames}, {net.CropSize}, {net.CropSize}] in [-1, 1] -> logits").ToByteArray();
    }
}
