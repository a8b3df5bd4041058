using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>Helpers of the architecture tests: random BatchNorm statistics (1-D, 2-D and 3-D), parameter counts, shapes.</summary>
internal static class ArchitectureTestNetworks
{
    /// <summary>Random BatchNorm scale, shift and running statistics of every BatchNorm1d/2d/3d, then eval mode.</summary>
    public static T RandomizeAllBatchNorms<T>(T net, int seed) where T : nn.Module
    {
        using var _ = no_grad();
        var g = new Generator((ulong)seed);
        foreach (var m in net.modules())
        {
            var (mean, var, weight, bias) = m switch
            {
                BatchNorm1d b => (b.running_mean, b.running_var, b.weight, b.bias),
                BatchNorm2d b => (b.running_mean, b.running_var, b.weight, b.bias),
                BatchNorm3d b => (b.running_mean, b.running_var, b.weight, b.bias),
                _ => (null, null, null, null),
            };
            if (mean is null) continue;
            mean.uniform_(-0.2, 0.2, generator: g);
            var!.uniform_(0.5, 1.5, generator: g);
            weight!.uniform_(0.8, 1.6, generator: g);
            bias!.uniform_(-0.1, 0.2, generator: g);
        }
        net.eval();
        return net;
    }

    public static long Parameters(nn.Module module) => module.parameters().Sum(p => p.numel());

    public static string Shape(Tensor t) => $"({string.Join(", ", t.shape)})";

    /// <summary>A random clip in [-1, 1].</summary>
    public static Tensor Clip(params long[] shape) => rand(shape) * 2 - 1;
}
