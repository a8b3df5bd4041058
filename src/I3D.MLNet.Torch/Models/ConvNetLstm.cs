using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// A batch-normalized LSTM layer (Cooijmans et al. 2016, "Recurrent Batch Normalization"; the paper's ConvNet+LSTM,
/// section 2.1): i, f, g, o = BN(W_x x) + BN(W_h h) + b; c = sigmoid(f) c + sigmoid(i) tanh(g); h = sigmoid(o) tanh(BN(c)).
/// Keys <c>weight_x</c> (4H, D), <c>weight_h</c> (4H, H), <c>bias</c> (4H), <c>bn_x.*</c>, <c>bn_h.*</c>, <c>bn_c.*</c>.
/// </summary>
/// <remarks>
/// Choices where the paper and Cooijmans et al. leave room: BatchNorm statistics are shared across time steps (one
/// BatchNorm per term, not one per step; Cooijmans keep per-step statistics); <c>bn_x</c> normalizes the input terms of
/// all steps at once, <c>bn_h</c> and <c>bn_c</c> each step in turn (batch statistics over the clips of the step in
/// training; so training needs a batch of 2 or more). Gamma starts at 0.1 (Cooijmans), beta at 0. The first step's
/// recurrent term is 0 (h_0 = 0) and is not normalized, so the all-zero vector does not skew <c>bn_h</c>'s statistics.
/// Gate order i, f, g, o (PyTorch's LSTM); W_x and W_h uniform in +-1/sqrt(H) (PyTorch's LSTM); b zero with the
/// forget gate's part 1 (our choice).
/// </remarks>
public sealed class BnLstm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight_x, weight_h, bias;
    private readonly HeldBatchNorm bn_x, bn_h, bn_c;

    /// <summary>Cooijmans et al.'s initial BatchNorm gamma.</summary>
    public const double InitialGamma = 0.1;

    /// <summary>A BN-LSTM layer from <paramref name="inputSize"/> features to <paramref name="hiddenSize"/> units.</summary>
    public BnLstm(long inputSize, long hiddenSize) : base(nameof(BnLstm))
    {
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        double bound = 1 / Math.Sqrt(hiddenSize);
        weight_x = nn.Parameter(empty(4 * hiddenSize, inputSize).uniform_(-bound, bound));
        weight_h = nn.Parameter(empty(4 * hiddenSize, hiddenSize).uniform_(-bound, bound));
        using (var b = zeros(4 * hiddenSize)) { b.narrow(0, hiddenSize, hiddenSize).FillWith(1); bias = nn.Parameter(b.clone()); }
        bn_x = HeldBatchNorm.Over1d(4 * hiddenSize);
        bn_h = HeldBatchNorm.Over1d(4 * hiddenSize);
        bn_c = HeldBatchNorm.Over1d(hiddenSize);
        using (no_grad())
            foreach (var bn in new[] { bn_x, bn_h, bn_c }) { bn.weight!.FillWith(InitialGamma); bn.bias!.zero_(); }
        RegisterComponents();
    }

    /// <summary>Features per time step in.</summary>
    public long InputSize { get; }
    /// <summary>Hidden units (section 2.1: 512).</summary>
    public long HiddenSize { get; }

    internal (Tensor Wx, Tensor Wh, Tensor Bias, HeldBatchNorm BnX, HeldBatchNorm BnH, HeldBatchNorm BnC) Parts => (weight_x, weight_h, bias, bn_x, bn_h, bn_c);

    /// <summary>Hidden states of every step (N, T, H) of inputs (N, T, D).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], t = x.shape[1];
        var xTerms = bn_x.forward(x.reshape(n * t, InputSize).matmul(weight_x.t())).view(n, t, 4 * HiddenSize).Plus(bias);
        Tensor? h = null, c = null;
        var outputs = new List<Tensor>();
        for (long step = 0; step < t; step++)
        {
            var gates = xTerms.select(1, step);
            if (h is not null) gates = gates.Plus(bn_h.forward(h.matmul(weight_h.t())));
            var g = gates.chunk(4, 1);
            var cell = g[0].sigmoid() * g[2].tanh();
            c = c is null ? cell : (g[1].sigmoid() * c).Plus(cell);
            h = g[3].sigmoid() * bn_c.forward(c).tanh();
            outputs.Add(h);
        }
        return stack(outputs, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The paper's ConvNet+LSTM (section 2.1 and Figure 2a): an ImageNet Inception-v1 (or another <see cref="FrameTower"/>) on every frame, its 1024-d features
/// after the last average pool into one BN-LSTM layer of 512 hidden units (<see cref="BnLstm"/>), then a fully
/// connected layer to the classes. Training: cross-entropy at every time step (<see cref="PerTimeLogits"/>); test: the
/// output of the last frame only (<see cref="forward"/>). Input: a clip (N, 3, T, H, W) in [-1, 1] (section 2.1: 1 frame
/// of every 5 from 25 fps, 25 frames for training and 50 for test). Keys <c>backbone.*</c> (torchvision GoogLeNet's
/// without <c>fc</c>), <c>lstm.*</c>, <c>fc.*</c>. No dropout (the paper does not state any).
/// </summary>
public sealed class ConvNetLstm : nn.Module<Tensor, Tensor>
{
    private readonly FrameTower backbone;
    private readonly BnLstm lstm;
    private readonly Linear fc;

    /// <summary>Hidden units of the LSTM (section 2.1).</summary>
    public const int HiddenSize = 512;

    /// <summary>The classifier's parameter-name prefix: what the paper's "Fixed" mode trains and a new class count replaces.</summary>
    public const string ClassifierPrefix = "fc.";

    /// <summary>The network with random weights (the 2-D backbone takes ImageNet weights with <see cref="FrameTower.LoadImageNet"/>).</summary>
    /// <param name="numClasses">Classes of the classifier.</param>
    /// <param name="inChannels">Input channels (3: RGB).</param>
    /// <param name="tower">The per-frame 2-D network (the paper's: Inception-v1).</param>
    public ConvNetLstm(int numClasses = 400, int inChannels = 3, TowerKind tower = TowerKind.InceptionV1) : base(nameof(ConvNetLstm))
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses));
        NumClasses = numClasses;
        InChannels = inChannels;
        backbone = FrameTower.Create(tower, numClasses: 0, inChannels);
        lstm = new BnLstm(backbone.FeatureChannels, HiddenSize);
        fc = nn.Linear(HiddenSize, numClasses);
        RegisterComponents();
        backbone.NameLayers("backbone.");
    }

    /// <summary>Classes of the classifier.</summary>
    public int NumClasses { get; }
    /// <summary>Input channels (3: RGB).</summary>
    public int InChannels { get; }

    /// <summary>The per-frame 2-D network (without a classifier).</summary>
    public FrameTower Backbone => backbone;
    /// <summary>The BN-LSTM over the frames' features (1024-d from Inception-v1).</summary>
    public BnLstm Lstm => lstm;
    internal Linear Classifier => fc;

    /// <summary>The last time step's logits (N, classes): the test protocol (section 2.1).</summary>
    public override Tensor forward(Tensor clip)
    {
        using var scope = NewDisposeScope();
        return fc.forward(Hidden(clip).select(1, -1)).MoveToOuterDisposeScope();
    }

    /// <summary>Logits at every time step (N, T, classes), for the cross-entropy at every step (section 2.1).</summary>
    public Tensor PerTimeLogits(Tensor clip)
    {
        using var scope = NewDisposeScope();
        return fc.forward(Hidden(clip)).MoveToOuterDisposeScope();
    }

    /// <summary>The LSTM's hidden states (N, T, 512).</summary>
    public Tensor Hidden(Tensor clip)
    {
        if (clip.dim() != 5 || clip.shape[1] != InChannels || clip.shape[2] < 1)
            throw new ArgumentException($"ConvNetLstm takes clips (N, {InChannels}, T, H, W), not ({string.Join(", ", clip.shape)})");
        using var scope = NewDisposeScope();
        long n = clip.shape[0], t = clip.shape[2];
        var features = backbone.Features(FrameTower.Frames(clip)).view(n, t, backbone.FeatureChannels);
        return lstm.forward(features).MoveToOuterDisposeScope();
    }

    /// <summary>A network whose backbone comes from ImageNet (section 2.1: ImageNet-pretrained; <see cref="FrameTower.LoadImageNet"/>); LSTM and fc fresh.</summary>
    public static ConvNetLstm FromImageNet(string path, int numClasses = 400, int inChannels = 3, TowerKind tower = TowerKind.InceptionV1)
        => FrameTower.WithImageNet(new ConvNetLstm(numClasses, inChannels, tower), path, n => n.backbone);
}

/// <summary>The paper's ConvNet+LSTM (section 2.1, Table 1 (a)) as a <see cref="VideoBackbone"/>: loss at every time step;
/// the paper's Inception-v1 per frame or a ResNet-18.</summary>
/// <param name="tower">The per-frame 2-D network.</param>
public sealed class ConvNetLstmBackbone(TowerKind tower = TowerKind.InceptionV1) : VideoBackbone
{
    /// <inheritdoc/>
    public override string Name => FrameTower.ArchitectureName(nameof(ConvNetLstm), tower);

    /// <inheritdoc/>
    public override string CliName => FrameTower.ArchitectureCliName("lstm", tower);

    /// <inheritdoc/>
    public override string Summary => tower == TowerKind.InceptionV1
        ? "ConvNet+LSTM: 2-D Inception-v1 per frame, one BN-LSTM of 512 units, the last frame's output at test, RGB (Table 1 (a): 9M parameters; 25 frames, 1 of every 5 at 25 fps = 5 s; the paper tests on 50, this protocol on one clip of 25)"
        : "ConvNet+LSTM with a ResNet-18 per frame (ImageNet start from ResNet18.onnx; not in the paper): Table 1 (a)'s clips";

    /// <inheritdoc/>
    public override IReadOnlyList<VideoStream> Streams => [VideoStream.Rgb];

    /// <inheritdoc/>
    public override ClipProtocol Protocol(VideoStream stream) => new(Frames: 25, FrameStride: 5, CropSize: 224, TestViews: 1);

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build(int classes, int inChannels) => new ConvNetLstm(classes, inChannels, tower);

    /// <inheritdoc/>
    public override string ClassifierPrefix => ConvNetLstm.ClassifierPrefix;

    /// <summary>Section 2.1: cross-entropy at every time step (each step's output against the clip's label).</summary>
    public override Tensor Loss(nn.Module<Tensor, Tensor> module, Tensor clips, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var perTime = ((ConvNetLstm)module).PerTimeLogits(clips); // (N, T, classes)
        long n = perTime.shape[0], t = perTime.shape[1];
        var loss = nn.functional.cross_entropy(perTime.reshape(n * t, perTime.shape[2]), labels.unsqueeze(1).expand(n, t).reshape(n * t));
        return loss.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override bool HasImageNetStart => true;

    /// <inheritdoc/>
    public override bool IsImageNetFile(string path) => (tower == TowerKind.ResNet18) == IsOnnx(path);

    /// <summary>The per-frame network's ImageNet file as it is (2-D): a torchvision GoogLeNet state_dict, or ResNet18.onnx; the LSTM and classifier are new.</summary>
    public override IReadOnlyList<KeyValuePair<string, Tensor>> ImageNetWeights(string path, int inChannels)
    {
        using var net = ConvNetLstm.FromImageNet(path, 1, inChannels, tower);
        return Copies(net);
    }

    /// <summary>The LSTM unrolled over <see cref="OnnxExportOptions.Frames"/> (default: the protocol's 25).</summary>
    public override byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options)
        => ArchitectureExport.Export((ConvNetLstm)module, options, options.Frames ?? Protocol(VideoStream.Rgb).Frames);
}
