using Google.Protobuf;
using I3D.MLNet.IO;
using I3D.MLNet.Onnx;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Inflation.Onnx.Proto;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Training;
using TorchSharp.Modules;
using static I3D.MLNet.Torch.Onnx.OnnxModelBuilder;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Onnx;

/// <summary>What goes into an exported model besides the network.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Class names in class order (metadata <c>classes</c>); null: "0", "1", ...</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    /// <summary>Frame height and width the model takes (fixed in the graph; the paper's 224).</summary>
    public int Size { get; init; } = 224;

    /// <summary>Frames per clip, for the architectures whose graph fixes the time axis (the unrolled ConvNet+LSTM);
    /// null for the architecture's own (Table 1). The others take any length.</summary>
    public int? Frames { get; init; }
}

/// <summary>
/// Writes our TorchSharp networks as ONNX models (opset 17) with the numerics of their <c>forward</c> (see
/// <see cref="I3DOnnxFormat"/> for the input, output and metadata): BatchNorm folded into the convolutions (in
/// float64), dropout left out (inference), logits averaged over time.
/// </summary>
/// <remarks>
/// InceptionI3d's TensorFlow "SAME" padding depends on each input's size; ONNX's <c>auto_pad = "SAME_UPPER"</c> is
/// the same rule (output ceil(size / stride), the odd extra row at the end), so the time axis can stay dynamic. Clips
/// shorter than 9 frames are looped in the graph exactly as <see cref="InceptionI3d.PrepareInput"/> does
/// (Gather of frames (0 .. max(T, 9) - 1) mod T), so every T >= 1 works. The final 2x7x7 average pool is clamped to
/// the feature map as in TorchSharp, which needs the frame size fixed at export. Max pools pad with -infinity in ONNX
/// and with zeros in the reference: the same, since every pool follows a ReLU.
/// </remarks>
public static class OnnxExporter
{
    /// <summary>An InceptionI3d (RGB: 3 input channels, flow: 2) as ONNX bytes.</summary>
    public static byte[] Export(InceptionI3d net, OnnxExportOptions? options = null)
        => Build(net, options ?? new OnnxExportOptions()).ToByteArray();

    /// <summary>
    /// A ResNet3d18 with a classifier as ONNX bytes; <paramref name="inputScale"/> multiplies the clip first (a stream
    /// of our trainer takes clips in [-1, 1] and feeds the network x 127.5).
    /// </summary>
    public static byte[] Export(ResNet3d18 net, OnnxExportOptions? options = null, float inputScale = 1)
        => Build(net, options ?? new OnnxExportOptions(), inputScale).ToByteArray();

    /// <summary>One ONNX model per stream (rgb, flow) of a trained classifier, with its class names, for frames of
    /// <paramref name="size"/> (and clips of <paramref name="frames"/> frames where the architecture fixes the time axis).</summary>
    public static IReadOnlyList<(VideoStream Stream, byte[] Model)> Export(I3DPredictionTransformer classifier, int size, int? frames = null)
    {
        var options = new OnnxExportOptions { Classes = classifier.Classes, Size = size, Frames = frames };
        return [.. classifier.StreamNetworks.Select(s => (s.Stream, s.Backbone.ExportOnnx(s.Module, options)))];
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/>, creating its folder.</summary>
    public static void Save(byte[] model, string path) => AtomicFile.WriteAllBytes(path, model);

    internal static ModelProto Build(InceptionI3d net, OnnxExportOptions options)
    {
        var (b, x) = Start(nameof(InceptionI3d), net.InChannels, options);
        using var _ = no_grad();

        // Loop short clips to 9 frames: index = arange(max(T, 9)) mod T (identity for T >= 9).
        var shape = b.Node("Shape", "clip_shape", [x]);
        var t = b.Node("Gather", "frames", [shape, b.Scalar("time_axis", 2)], Int("axis", 0));
        var n = b.Node("Max", "looped_frames", [t, b.Scalar("min_frames", InceptionI3d.MinFrames)]);
        var range = b.Node("Range", "frame_range", [b.Scalar("zero", 0), n, b.Scalar("one", 1)]);
        var index = b.Node("Mod", "frame_index", [range, t]);
        var y = b.Node("Gather", "looped_clip", [x, index], Int("axis", 2));

        long h = options.Size, w = options.Size;
        foreach (var (name, module) in net.Layers)
        {
            switch (module)
            {
                case Unit3D unit:
                    y = Unit(b, name, unit, y);
                    (h, w) = (Ceil(h, unit.Stride[1]), Ceil(w, unit.Stride[2]));
                    break;
                case MaxPool3dSamePadding pool:
                    y = MaxPoolSame(b, name, pool, y);
                    (h, w) = (Ceil(h, pool.Stride[1]), Ceil(w, pool.Stride[2]));
                    break;
                case InceptionModule block:
                    var (b0, b1, b2, pool3, b3) = block.Branches;
                    string Chain(Unit3D[] units, string branch, string input)
                    {
                        for (int i = 0; i < units.Length; i++) input = Unit(b, $"{name}.{branch}{(units.Length > 1 ? (char)('a' + i) : "")}", units[i], input);
                        return input;
                    }
                    string pooled = MaxPoolSame(b, $"{name}.b3a", pool3, y);
                    y = b.Node("Concat", name, [Chain(b0, "b0", y), Chain(b1, "b1", y), Chain(b2, "b2", y), Unit(b, $"{name}.b3b", b3, pooled)], Int("axis", 1));
                    break;
                default:
                    throw new NotSupportedException($"cannot export layer {name} ({module.GetType().Name})");
            }
        }
        // Section 2.4: 2x7x7 average pool, stride 1 (clamped to the feature map; time has >= 2 steps after the looping).
        y = b.Node("AveragePool", "avg_pool", [y], Ints("kernel_shape", InceptionI3d.PoolKernel(2, h, w)), Ints("strides", 1, 1, 1));
        var (weight, bias) = Folded(net.Classifier.Conv, null);
        using (weight) using (bias)
            y = b.Node("Conv", "logits_per_position", [y, b.Initializer("logits.weight", weight), b.Initializer("logits.bias", bias)],
                Ints("kernel_shape", 1, 1, 1));
        y = b.Node("ReduceMean", "logits_per_time", [y], Ints("axes", 3, 4), Int("keepdims", 0));
        b.Node("ReduceMean", I3DOnnxFormat.OutputName, [y], Ints("axes", 2), Int("keepdims", 0));
        return Finish(b, nameof(InceptionI3d), net.InChannels, net.NumClasses, options,
            $"I3D (Carreira and Zisserman, CVPR 2017) {VideoStreams.OfChannels(net.InChannels).Name()} stream: clip [batch, {net.InChannels}, time, {options.Size}, {options.Size}] in [-1, 1] -> logits [batch, {net.NumClasses}] averaged over time; any time >= 1 (clips under {InceptionI3d.MinFrames} frames are looped)");
    }

    internal static ModelProto Build(ResNet3d18 net, OnnxExportOptions options, float inputScale)
    {
        var (conv1, bn1, blocks, fc) = net.Parts;
        if (fc is null) throw new ArgumentException("the ResNet3d18 has no classifier (built with numClasses 0): nothing to export as logits");
        long inChannels = conv1.weight!.shape[1];
        // The graph's pads are CNTK's for even inputs to every stride-2 stage (BasicBlock3d.CntkPadding without a size);
        // the TorchSharp network pads odd sizes one more, which a static graph would need per size.
        if (options.Size % 32 != 0) throw new ArgumentException($"ResNet3d18 takes frames whose size is a multiple of 32 (e.g. 224), not {options.Size}");
        var (b, x) = Start(nameof(ResNet3d18), inChannels, options);
        using var _ = no_grad();
        var y = inputScale == 1 ? x : b.Node("Mul", "scaled_clip", [x, b.FloatScalar("input_scale", inputScale)]);
        y = ResNetTrunk(b, "", conv1, bn1, blocks, y);
        y = b.Node("ReduceMean", "features", [y], Ints("axes", 2, 3, 4), Int("keepdims", 0));
        b.Node("Gemm", I3DOnnxFormat.OutputName, [y, b.Initializer("fc.weight", fc.weight!), b.Initializer("fc.bias", fc.bias!)], Int("transB", 1));
        return Finish(b, nameof(ResNet3d18), inChannels, net.NumClasses, options,
            $"Inflated ResNet-18 {VideoStreams.OfChannels(inChannels).Name()} stream: clip [batch, {inChannels}, time, {options.Size}, {options.Size}] in [-1, 1] -> logits [batch, {net.NumClasses}]");
    }

    /// <summary>
    /// ResNet3d18's or a ResNet-18 tower's stem and blocks (<see cref="ResNet3d18.Trunk"/>): conv1 (its own time stride),
    /// the 1x3x3 max pool, the basic blocks with their projections; the last block's output. Node names start with
    /// <paramref name="prefix"/> (and a dot when it is not empty).
    /// </summary>
    internal static string ResNetTrunk(OnnxModelBuilder b, string prefix, Conv3d conv1, HeldBatchNorm bn1, IEnumerable<BasicBlock3d> blocks, string x)
    {
        string p = prefix.Length == 0 ? "" : prefix + ".";
        var y = b.Node("Relu", $"{p}conv1.relu", [ResNetConv(b, $"{p}conv1", conv1, bn1, x, conv1.stride[0], 2)]);
        // 1x3x3 max pool, stride (1, 2, 2), one row/column of padding at the start (ResNet3d18.Trunk).
        y = b.Node("MaxPool", $"{p}maxpool", [y], Ints("kernel_shape", 1, 3, 3), Ints("strides", 1, 2, 2), Ints("pads", 0, 1, 1, 0, 0, 0));
        int index = 0;
        foreach (var block in blocks)
        {
            var (c1, n1, c2, n2, shortcut, stride) = block.Parts;
            string name = $"{p}block{index++}";
            var a = b.Node("Relu", $"{name}.relu1", [ResNetConv(b, $"{name}.conv1", c1, n1, y, 1, stride)]);
            var c = ResNetConv(b, $"{name}.conv2", c2, n2, a, 1, 1);
            string skip = y;
            if (shortcut is { } s)
            {
                var (sw, sb) = Folded(s.Conv, s.Bn);
                using (sw) using (sb)
                    skip = b.Node("Conv", $"{name}.downsample", [y, b.Initializer($"{name}.downsample.weight", sw), b.Initializer($"{name}.downsample.bias", sb)],
                        Ints("kernel_shape", 1, 1, 1), Ints("strides", 1, stride, stride));
            }
            y = b.Node("Relu", $"{name}.relu2", [b.Node("Add", $"{name}.add", [c, skip])]);
        }
        return y;
    }

    /// <summary>A graph with the contract's input: clip [batch, channels, time, size, size]; time symbolic unless given.</summary>
    internal static (OnnxModelBuilder Builder, string Input) Start(string graphName, long channels, OnnxExportOptions options, object? time = null)
    {
        if (options.Size < 1) throw new ArgumentException($"the frame size must be positive, not {options.Size}");
        var b = new OnnxModelBuilder(graphName);
        b.Input(Value(I3DOnnxFormat.InputName, OnnxModelBuilder.Float, I3DOnnxFormat.BatchDimension, channels, time ?? I3DOnnxFormat.TimeDimension, (long)options.Size, (long)options.Size));
        return (b, I3DOnnxFormat.InputName);
    }

    private static ModelProto Finish(OnnxModelBuilder b, string backbone, long channels, int classes, OnnxExportOptions options, string doc)
        => Finish(b, backbone, VideoStreams.OfChannels(channels).Name(), classes, options, doc);

    /// <summary>The contract's output logits [batch, classes] and metadata (classes, stream, layout, input range, architecture).</summary>
    internal static ModelProto Finish(OnnxModelBuilder b, string backbone, string stream, int classes, OnnxExportOptions options, string doc)
    {
        var names = options.Classes ?? [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        if (names.Count != classes) throw new ArgumentException($"{names.Count} class names for a network of {classes} classes");
        if (names.Any(n => n.Contains('\n'))) throw new ArgumentException("a class name cannot contain a line break (the metadata joins them with newlines)");
        b.Output(Value(I3DOnnxFormat.OutputName, OnnxModelBuilder.Float, I3DOnnxFormat.BatchDimension, (long)classes));
        return b.Build(I3DOnnxFormat.Opset,
        [
            new(I3DOnnxFormat.ClassesKey, I3DOnnxFormat.JoinClasses(names)),
            new(I3DOnnxFormat.StreamKey, stream),
            new(I3DOnnxFormat.LayoutKey, I3DOnnxFormat.Layout),
            new(I3DOnnxFormat.InputRangeKey, I3DOnnxFormat.InputRange),
            new(I3DOnnxFormat.BackboneKey, backbone),
        ], doc);
    }

    private static long Ceil(long size, long stride) => (size + stride - 1) / stride;

    /// <summary>Unit3D: conv with BatchNorm folded in, TF "SAME" padding (SAME_UPPER), ReLU.</summary>
    private static string Unit(OnnxModelBuilder b, string name, Unit3D unit, string x)
    {
        var (weight, bias) = Folded(unit.Conv, unit.BatchNorm);
        using (weight) using (bias)
        {
            var y = b.Node("Conv", name, [x, b.Initializer($"{name}.weight", weight), b.Initializer($"{name}.bias", bias)],
                Ints("kernel_shape", unit.Kernel), Ints("strides", unit.Stride), Text("auto_pad", "SAME_UPPER"));
            return b.Node("Relu", $"{name}.relu", [y]);
        }
    }

    private static string MaxPoolSame(OnnxModelBuilder b, string name, MaxPool3dSamePadding pool, string x)
        => b.Node("MaxPool", name, [x], Ints("kernel_shape", pool.Kernel), Ints("strides", pool.Stride), Text("auto_pad", "SAME_UPPER"));

    /// <summary>
    /// ResNet3d18's convolution (BasicBlock3d.Conv): edge frames repeated kt / 2 each side (Pad "edge"), CNTK's spatial
    /// zero padding (BasicBlock3d.CntkPadding), BatchNorm folded in.
    /// </summary>
    private static string ResNetConv(OnnxModelBuilder b, string name, Conv3d conv, HeldBatchNorm bn, string x, long temporalStride, long spatialStride)
    {
        long[] k = conv.weight!.shape[2..];
        long t = k[0] / 2;
        var (begin, end) = BasicBlock3d.CntkPadding(k[1], spatialStride);
        if (t > 0) x = b.Node("Pad", $"{name}.time_pad", [x, b.Int64s($"{name}.time_pads", [0, 0, t, 0, 0, 0, 0, t, 0, 0])], Text("mode", "edge"));
        var (weight, bias) = Folded(conv, bn);
        using (weight) using (bias)
            return b.Node("Conv", name, [x, b.Initializer($"{name}.weight", weight), b.Initializer($"{name}.bias", bias)],
                Ints("kernel_shape", k), Ints("strides", temporalStride, spatialStride, spatialStride), Ints("pads", 0, begin, begin, 0, end, end));
    }

    /// <summary>Convolution weight and bias with an eval-mode BatchNorm after it folded in (<see cref="BatchNormFolding"/>), float32 on the CPU.</summary>
    internal static (Tensor Weight, Tensor Bias) Folded(Conv3d conv, BatchNorm? bn)
    {
        using var scope = NewDisposeScope();
        var (w, b) = BatchNormFolding.Fold(conv.weight!.detach().cpu().to(ScalarType.Float32), conv.bias?.detach().cpu().to(ScalarType.Float32), bn);
        return (w.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }
}
