using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>Helpers of the architecture tests: parameter counts, shapes, random clips (BatchNorm statistics: <see cref="Onnx.OnnxTestNetworks.RandomizeBatchNorms"/>).</summary>
internal static class ArchitectureTestNetworks
{
    public static long Parameters(nn.Module module) => module.parameters().Sum(p => p.numel());

    public static string Shape(Tensor t) => $"({string.Join(", ", t.shape)})";

    /// <summary>A random clip in [-1, 1].</summary>
    public static Tensor Clip(params long[] shape) => empty(shape).uniform_(-1, 1);
}
