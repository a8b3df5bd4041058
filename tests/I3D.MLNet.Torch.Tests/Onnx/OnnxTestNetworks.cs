using I3D.MLNet.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Onnx;

/// <summary>Small random networks with non-trivial BatchNorm statistics, and ONNX Runtime runs for the export tests.</summary>
internal static class OnnxTestNetworks
{
    /// <summary>Random scale, shift and running statistics of every BatchNorm (1-, 2- and 3-D; fresh ones are 1, 0, 0, 1:
    /// folding would be untested), then eval mode.</summary>
    public static T RandomizeBatchNorms<T>(T net, int seed) where T : nn.Module
    {
        using var _ = no_grad();
        var g = new Generator((ulong)seed);
        foreach (var bn in net.modules().OfType<BatchNorm>())
        {
            bn.running_mean!.uniform_(-0.2, 0.2, generator: g);
            bn.running_var!.uniform_(0.5, 1.5, generator: g);
            bn.weight!.uniform_(0.8, 1.6, generator: g);
            bn.bias!.uniform_(-0.1, 0.2, generator: g);
        }
        net.eval();
        return net;
    }

    /// <summary>Runs an ONNX model on one NCTHW clip batch with ONNX Runtime (CPU); returns the output and its shape.</summary>
    public static (float[] Values, long[] Shape) Run(byte[] model, Tensor clip)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 2 };
        using var session = new InferenceSession(model, options);
        using var cpu = clip.to(ScalarType.Float32).cpu().contiguous();
        var data = cpu.data<float>().ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(data, cpu.shape);
        using var outputs = session.Run(new RunOptions(), [I3DOnnxFormat.InputName], [input], [I3DOnnxFormat.OutputName]);
        var result = outputs[0];
        return (result.GetTensorDataAsSpan<float>().ToArray(), result.GetTensorTypeAndShape().Shape);
    }

    /// <summary>||a - b|| / ||b||.</summary>
    public static double RelativeL2(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"{actual.Length} values vs {expected.Length}");
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            diff += Math.Pow(actual[i] - expected[i], 2);
            norm += Math.Pow(expected[i], 2);
        }
        return Math.Sqrt(diff / norm);
    }
}
