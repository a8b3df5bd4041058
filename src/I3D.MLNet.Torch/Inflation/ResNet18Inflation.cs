using I3D.MLNet.Torch.Inflation.Onnx;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inflation;

/// <summary>
/// Bootstraps <see cref="ResNet3d18"/> from the ImageNet ResNet-18 that the NuGet package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 ships as ONNX (tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx: a CNTK
/// export, opset 8, input <c>Input247</c> 1x3x224x224 of mean-subtracted pixels, output 1x512x1x1). Every 2-D filter
/// is inflated (<see cref="Inflate"/>), BatchNorm statistics are copied. The graph is checked against the
/// architecture: another network is refused with the first difference.
/// </summary>
public static class ResNet18Inflation
{
    /// <summary>A ResNet3d18 inflated from ResNet18.onnx at <paramref name="onnxPath"/>; <paramref name="numClasses"/> &gt; 0 adds a fresh classifier.</summary>
    public static ResNet3d18 FromOnnx(string onnxPath, int numClasses = 0)
    {
        var graph = OnnxGraph.Read(onnxPath);
        var net = new ResNet3d18(numClasses, 3, BlocksPerStage(graph));
        try
        {
            Load(graph, net.ConvolutionsInOnnxOrder().ToList());
            net.eval();
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>Basic blocks per stage in the graph: two 3x3 convolutions per basic block with 64, 128, 256, 512 outputs.</summary>
    internal static int[] BlocksPerStage(OnnxGraph graph)
    {
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        int[] blocks = [.. new long[] { 64, 128, 256, 512 }.Select(c => convs.Count(n =>
            n.Ints.TryGetValue("kernel_shape", out var k) && k.SequenceEqual(new long[] { 3, 3 }) && graph.IsInitializer(n.Inputs[1])
            && graph.OutChannels(n.Inputs[1]) == c) / 2)];
        if (blocks.Any(b => b < 1))
            throw new InvalidDataException($"{graph.Path}: no basic blocks of 64/128/256/512 channels: not the ResNet-18 this importer knows");
        return blocks;
    }

    /// <summary>
    /// The graph's convolutions and BatchNorms into <paramref name="targets"/> (a network's, in the graph's order): each 2-D
    /// filter inflated to its target's time extent (1: copied as it is), each BatchNorm's statistics copied; the graph's
    /// strides and pads checked against the network's.
    /// </summary>
    internal static void Load(OnnxGraph graph, IReadOnlyList<(string Name, Conv3d Conv, HeldBatchNorm Bn, long Stride)> targets)
    {
        string onnxPath = graph.Path;
        var convs = graph.Nodes.Where(n => n.OpType == "Conv").ToList();
        if (convs.Count != targets.Count)
            throw new InvalidDataException($"{onnxPath}: {convs.Count} convolutions, ResNet-18 has {targets.Count}: not the ResNet-18 this importer knows");
        using var _ = no_grad();
        for (int i = 0; i < convs.Count; i++)
        {
            var (name, conv, bn, stride) = targets[i];
            var node = convs[i];
            long k = conv.weight!.shape[3];
            var (begin, end) = BasicBlock3d.CntkPadding(k, stride);
            Expect(node, "strides", [stride, stride], name, onnxPath);
            Expect(node, "pads", [begin, begin, end, end], name, onnxPath);
            using (var w = graph.Initializer(node.Inputs[1])) Inflate.Into(conv.weight, w, $"{onnxPath}: {name}");
            var bnNode = graph.Nodes.SingleOrDefault(n => n.OpType == "BatchNormalization" && n.Inputs[0] == node.Outputs[0])
                ?? throw new InvalidDataException($"{onnxPath}: {name} is not followed by a BatchNormalization");
            if (bnNode.Floats.TryGetValue("epsilon", out float eps) && Math.Abs(eps - 1e-5) > 1e-9)
                throw new InvalidDataException($"{onnxPath}: {name} BatchNorm epsilon {eps}, the network uses 1e-5");
            CopyBatchNorm(graph, bnNode, bn, name);
        }
    }

    private static void Expect(OnnxNode node, string attribute, long[] expected, string name, string path)
    {
        if (!node.Ints.TryGetValue(attribute, out var actual) || !actual.SequenceEqual(expected))
            throw new InvalidDataException($"{path}: {name} has {attribute} [{string.Join(", ", actual ?? [])}], expected [{string.Join(", ", expected)}]: not the ResNet-18 this importer knows");
    }

    private static void CopyBatchNorm(OnnxGraph graph, OnnxNode node, HeldBatchNorm bn, string name)
    {
        // ONNX BatchNormalization inputs: X, scale, B, mean, var.
        var targets = new[] { bn.weight!, bn.bias!, bn.running_mean!, bn.running_var! };
        for (int j = 0; j < 4; j++)
        {
            using var value = graph.Initializer(node.Inputs[j + 1]);
            if (!value.shape.SequenceEqual(targets[j].shape))
                throw new InvalidDataException($"{graph.Path}: {name} BatchNorm input {j + 1} has shape ({string.Join(", ", value.shape)})");
            targets[j].copy_(value);
        }
    }
}
