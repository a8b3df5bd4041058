using Google.Protobuf;
using I3D.MLNet.Onnx;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Inflation.Onnx.Proto;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static I3D.MLNet.Torch.Onnx.OnnxExporter;
using static I3D.MLNet.Torch.Onnx.OnnxModelBuilder;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Onnx;

/// <summary>
/// ONNX export (opset 17) of the paper's 2-D architectures (<see cref="TwoStream2d"/>, <see cref="ConvNetLstm"/>,
/// <see cref="Fused3dTwoStream"/>: their towers (<see cref="FrameTower"/>) write their own feature maps, Inception-v1's here; <see cref="C3DBackbone"/> writes its own) in the <see cref="I3DOnnxFormat"/> contract: input
/// <c>clip</c> float32 [batch, C, time, H, W] in [-1, 1] (batch symbolic, H and W fixed), output <c>logits</c>
/// [batch, classes] (the module's eval-mode <c>forward</c>), metadata <c>classes</c>, <c>stream</c>, <c>layout</c>,
/// <c>input_range</c>, <c>backbone</c> (the architecture's class name). Every BatchNorm is folded in float64 into the
/// convolution or fully connected layer before it (or, inside the LSTM, into its matrix product); dropout is left out.
/// </summary>
/// <remarks>
/// The 2-D towers are written as 3-D graphs over (N, C, T, H, W) with 1xkxk kernels (the frames are the
/// time axis), so no reshape to N x T images is needed and the time axis can stay symbolic where the architecture
/// allows: the Two-Stream towers take any T (flow: a multiple of the stack length). C3D's time is fixed at 16,
/// ConvNet+LSTM's at the export's frame count (the LSTM is unrolled), 3D-Fused's at snippets x snippet frames; its
/// <c>stream</c> metadata is <c>rgb+flow</c> (5 channels). Max pools pad with -infinity in ONNX and in libtorch alike.
/// </remarks>
internal static class ArchitectureExport
{
    /// <summary>A Two-Stream tower: logits averaged over the clip's frames (RGB) or flow stacks; time symbolic.</summary>
    public static byte[] Export(TwoStream2d net, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        long s = options.Size;
        var (b, x) = Start(nameof(TwoStream2d), net.InChannels, options, I3DOnnxFormat.TimeDimension);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        if (net.IsFlow) x = FlowStacks(b, "flow_stacks", x, net.FlowStack, s);
        var y = PooledPerTime(b, "tower", net.Tower, x, s);                       // (N, F, T)
        y = b.Node("Transpose", "features_by_time", [y], Ints("perm", 0, 2, 1));   // (N, T, F)
        var fc = net.Tower.Classifier!;
        y = b.Node("MatMul", "logits_by_time_nobias", [y, b.Initializer("tower.fc.weight_t", fc.weight!.t())]);
        y = b.Node("Add", "logits_by_time", [y, b.Initializer("tower.fc.bias", fc.bias!)]);
        b.Node("ReduceMean", I3DOnnxFormat.OutputName, [y], Ints("axes", 1), Int("keepdims", 0));
        string what = net.IsFlow ? $"stacks of {net.FlowStack} optical flow frames (time a multiple of {net.FlowStack})" : "RGB frames";
        return Finish(b, FrameTower.ArchitectureName(nameof(TwoStream2d), net.Tower.Kind), VideoStreams.OfChannels(net.InChannels).Name(), net.NumClasses, options,
            $"Two-Stream (Carreira and Zisserman, CVPR 2017, section 2.3) {VideoStreams.OfChannels(net.InChannels).Name()} tower: clip [batch, {net.InChannels}, time, {s}, {s}] in [-1, 1] -> {net.Tower.Kind} logits of the {what}, averaged").ToByteArray();
    }

    /// <summary>ConvNet+LSTM unrolled over <paramref name="frames"/> time steps (fixed in the graph): the last step's logits.</summary>
    public static byte[] Export(ConvNetLstm net, OnnxExportOptions? options, int frames)
    {
        if (frames < 1) throw new ArgumentOutOfRangeException(nameof(frames));
        options ??= new OnnxExportOptions();
        long s = options.Size;
        var (b, x) = Start(nameof(ConvNetLstm), net.InChannels, options, (long)frames);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var y = PooledPerTime(b, "backbone", net.Backbone, x, s);                 // (N, F, T)
        y = b.Node("Transpose", "features_by_time", [y], Ints("perm", 0, 2, 1));   // (N, T, F)
        var (wx, wh, bias, bnX, bnH, bnC) = net.Lstm.Parts;
        long hidden = net.Lstm.HiddenSize;
        // BN(W_x x) + b = x (W_x * scale_x)^T + (shift_x + b); BN(W_h h) likewise; BN(c) = c scale_c + shift_c (eval mode).
        var (sx, tx) = BatchNormFolding.Affine(bnX);
        var (sh, th) = BatchNormFolding.Affine(bnH);
        var (sc, tc) = BatchNormFolding.Affine(bnC);
        using (sx) using (tx) using (sh) using (th) using (sc) using (tc)
        {
            var xTerms = b.Node("MatMul", "lstm.x_terms_nobias", [y, b.Initializer("lstm.weight_x_t", Scaled(wx, sx).t())]);
            xTerms = b.Node("Add", "lstm.x_terms", [xTerms, b.Initializer("lstm.x_shift", tx.Plus(bias.detach().to(ScalarType.Float64)))]);
            string whT = b.Initializer("lstm.weight_h_t", Scaled(wh, sh).t()), hShift = b.Initializer("lstm.h_shift", th);
            string cScale = b.Initializer("lstm.c_scale", sc), cShift = b.Initializer("lstm.c_shift", tc);
            string[] starts = [.. Enumerable.Range(0, 4).Select(k => b.Int64s($"lstm.gate{k}_start", [k * hidden]))];
            string[] ends = [.. Enumerable.Range(0, 4).Select(k => b.Int64s($"lstm.gate{k}_end", [(k + 1) * hidden]))];
            string axis1 = b.Int64s("lstm.gate_axis", [1]);
            string? h = null, c = null;
            for (int t = 0; t < frames; t++)
            {
                string p = $"lstm.t{t}";
                var gates = b.Node("Gather", $"{p}.x_terms", [xTerms, b.Scalar($"{p}.index", t)], Int("axis", 1));
                if (h is not null)
                    gates = b.Node("Add", $"{p}.gates", [gates, b.Node("Add", $"{p}.h_terms", [b.Node("MatMul", $"{p}.h_terms_noshift", [h, whT]), hShift])]);
                string Gate(int k, string op) => b.Node(op, $"{p}.gate{k}", [b.Node("Slice", $"{p}.gate{k}_pre", [gates, starts[k], ends[k], axis1])]);
                string i = Gate(0, "Sigmoid"), f = Gate(1, "Sigmoid"), g = Gate(2, "Tanh"), o = Gate(3, "Sigmoid");
                var cell = b.Node("Mul", $"{p}.input_cell", [i, g]);
                c = c is null ? cell : b.Node("Add", $"{p}.c", [b.Node("Mul", $"{p}.kept_cell", [f, c]), cell]);
                var normed = b.Node("Add", $"{p}.c_bn", [b.Node("Mul", $"{p}.c_scaled", [c, cScale]), cShift]);
                h = b.Node("Mul", $"{p}.h", [o, b.Node("Tanh", $"{p}.c_tanh", [normed])]);
            }
            var fc = net.Classifier;
            b.Node("Gemm", I3DOnnxFormat.OutputName, [h!, b.Initializer("fc.weight", fc.weight!), b.Initializer("fc.bias", fc.bias!)], Int("transB", 1));
        }
        return Finish(b, FrameTower.ArchitectureName(nameof(ConvNetLstm), net.Backbone.Kind), VideoStreams.OfChannels(net.InChannels).Name(), net.NumClasses, options,
            $"ConvNet+LSTM (Carreira and Zisserman, CVPR 2017, section 2.1): clip [batch, {net.InChannels}, {frames}, {s}, {s}] in [-1, 1] -> the last time step's logits (BN-LSTM unrolled over {frames} steps)").ToByteArray();
    }

    /// <summary>3D-Fused Two-Stream: a 5-channel clip (RGB + flow) of snippets x snippet frames (fixed in the graph).</summary>
    public static byte[] Export(Fused3dTwoStream net, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        long s = options.Size;
        var (b, x) = Start(nameof(Fused3dTwoStream), Fused3dTwoStream.InChannels, options, (long)net.Frames);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var frames = b.Node("Gather", "centre_frames", [x, b.Int64s("centre_frame_index", net.CentreFrames)], Int("axis", 2));
        var rgb = b.Node("Slice", "rgb_frames", [frames, b.Int64s("rgb_start", [0]), b.Int64s("rgb_end", [3]), b.Int64s("channel_axis", [1])]);
        var flow = b.Node("Slice", "flow_frames", [x, b.Int64s("flow_start", [3]), b.Int64s("flow_end", [5]), b.Int64s("flow_axis", [1])]);
        flow = FlowStacks(b, "flow_stacks", flow, net.SnippetFrames, s);
        var y = b.Node("Concat", "towers", [net.RgbTower.ExportFeatureMaps(b, "rgb", rgb, s), net.FlowTower.ExportFeatureMaps(b, "flow", flow, s)], Int("axis", 1));
        var (conv, bn, fc) = net.Head;
        var (w, bias) = Folded(conv.weight!, conv.bias, bn);
        using (w) using (bias)
            y = b.Node("Conv", "fusion_conv", [y, b.Initializer("fusion_conv.weight", w), b.Initializer("fusion_conv.bias", bias)],
                Ints("kernel_shape", 3, 3, 3), Ints("pads", 1, 1, 1, 1, 1, 1));
        y = b.Node("Relu", "fusion_conv.relu", [y]);
        var pad = Fused3dTwoStream.PoolPadding;
        y = b.Node("MaxPool", "fusion_pool", [y], Ints("kernel_shape", Fused3dTwoStream.PoolKernel), Ints("strides", Fused3dTwoStream.PoolStride), Ints("pads", [.. pad, .. pad]));
        y = b.Node("ReduceMean", "fused_features", [y], Ints("axes", 2, 3, 4), Int("keepdims", 0));
        b.Node("Gemm", I3DOnnxFormat.OutputName, [y, b.Initializer("fc.weight", fc.weight!), b.Initializer("fc.bias", fc.bias!)], Int("transB", 1));
        return Finish(b, FrameTower.ArchitectureName(nameof(Fused3dTwoStream), net.RgbTower.Kind), VideoStream.RgbAndFlow.Name(), net.NumClasses, options,
            $"3D-Fused Two-Stream (Carreira and Zisserman, CVPR 2017, section 2.3): clip [batch, 5 (RGB, flow x, flow y), {net.Frames} ({net.Snippets} snippets of {net.SnippetFrames}), {s}, {s}] in [-1, 1] -> logits").ToByteArray();
    }

    /// <summary>
    /// Flow frames (N, 2, S x L, H, W) as (N, 2L, S, H, W) with channels x0, y0, x1, y1, ... (as
    /// <see cref="InceptionV1"/>'s stacking): reshape to (N, 2, S, L, H, W), move L before the x/y axis, merge them.
    /// </summary>
    private static string FlowStacks(OnnxModelBuilder b, string name, string x, long stack, long size)
    {
        var split = b.Node("Reshape", $"{name}.split", [x, b.Int64s($"{name}.split_shape", [0, 2, -1, stack, size, size])]);
        var moved = b.Node("Transpose", $"{name}.moved", [split], Ints("perm", 0, 3, 1, 2, 4, 5));
        return b.Node("Reshape", name, [moved, b.Int64s($"{name}.shape", [0, 2 * stack, -1, size, size])]);
    }

    /// <summary>An Inception-v1 tower on (N, C, T, H, W), each frame on its own: the <c>inception5b</c> map (N, 1024, T, h, w).</summary>
    internal static string InceptionFeatureMaps(OnnxModelBuilder b, string prefix, InceptionV1 net, string x)
    {
        var y = x;
        foreach (var (name, module) in net.Layers)
        {
            string path = $"{prefix}.{name}";
            switch (module)
            {
                case BasicConv2d conv:
                    y = Conv(b, path, conv, y);
                    break;
                case MaxPool2d:
                    long k = InceptionV1.PoolKernel(name);
                    y = b.Node("MaxPool", path, [y], Ints("kernel_shape", 1, k, k), Ints("strides", 1, 2, 2), Int("ceil_mode", 1));
                    break;
                case InceptionBlock2d block:
                    var (b1, b2a, b2b, b3a, b3b, b4) = block.Branches;
                    var pooled = b.Node("MaxPool", $"{path}.branch4.0", [y], Ints("kernel_shape", 1, 3, 3), Ints("strides", 1, 1, 1),
                        Ints("pads", 0, 1, 1, 0, 1, 1), Int("ceil_mode", 1));
                    y = b.Node("Concat", path, [Conv(b, $"{path}.branch1", b1, y),
                        Conv(b, $"{path}.branch2.1", b2b, Conv(b, $"{path}.branch2.0", b2a, y)),
                        Conv(b, $"{path}.branch3.1", b3b, Conv(b, $"{path}.branch3.0", b3a, y)),
                        Conv(b, $"{path}.branch4.1", b4, pooled)], Int("axis", 1));
                    break;
                default:
                    throw new NotSupportedException($"cannot export layer {path} ({module.GetType().Name})");
            }
        }
        return y;
    }

    /// <summary>The tower's features after the global average pool, per frame: (N, features, T).</summary>
    private static string PooledPerTime(OnnxModelBuilder b, string prefix, FrameTower net, string x, long size)
        => b.Node("ReduceMean", $"{prefix}.features", [net.ExportFeatureMaps(b, prefix, x, size)], Ints("axes", 3, 4), Int("keepdims", 0));

    /// <summary>BasicConv2d as a 1xkxk Conv over (N, C, T, H, W) with its BatchNorm folded in, then ReLU.</summary>
    private static string Conv(OnnxModelBuilder b, string name, BasicConv2d conv, string x)
    {
        var (w, bias) = Folded(conv.Conv.weight!.unsqueeze(2), null, conv.BatchNorm);
        using (w) using (bias)
        {
            long k = conv.Kernel, s = conv.Stride, p = conv.Padding;
            var y = b.Node("Conv", name, [x, b.Initializer($"{name}.weight", w), b.Initializer($"{name}.bias", bias)],
                Ints("kernel_shape", 1, k, k), Ints("strides", 1, s, s), Ints("pads", 0, p, p, 0, p, p));
            return b.Node("Relu", $"{name}.relu", [y]);
        }
    }

    /// <summary>A fully connected layer with the BatchNorm1d after it (if any) folded in, as a Gemm.</summary>
    internal static string Gemm(OnnxModelBuilder b, string name, Linear fc, HeldBatchNorm? bn, string x)
    {
        var (w, bias) = Folded(fc.weight!, fc.bias, bn);
        using (w) using (bias)
            return b.Node("Gemm", name, [x, b.Initializer($"{name}.weight", w), b.Initializer($"{name}.bias", bias)], Int("transB", 1));
    }

    /// <summary>W_x or W_h (4 x hidden, in) times the scale of the BatchNorm after its product, in float64.</summary>
    private static Tensor Scaled(Tensor weight, Tensor scale) => weight.detach().cpu().to(ScalarType.Float64) * scale.view(-1, 1);

    /// <summary>A layer's weight and bias with the eval-mode BatchNorm after it folded in (float64 arithmetic), float32 on the CPU.</summary>
    private static (Tensor Weight, Tensor Bias) Folded(Tensor weight, Tensor? bias, BatchNorm? bn)
        => BatchNormFolding.Fold(weight.detach().cpu().to(ScalarType.Float32), bias?.detach().cpu().to(ScalarType.Float32), bn);
}
