using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>
/// Whether libtorch's float32 conv2d shares the oneDNN conv3d fault seen on the AMD Zen 5 machine (24 input channels,
/// batch >= 2): measured here against float64, and reported; the 2-D networks route through Conv3dGuard either way.
/// </summary>
public sealed class Conv2dNumericsArchitecturesTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(24, 3, 2)]
    [InlineData(24, 3, 1)]
    [InlineData(16, 3, 2)]
    [InlineData(40, 3, 2)]
    [InlineData(24, 1, 2)]
    [InlineData(20, 7, 2, 2)]
    [InlineData(3, 7, 2, 2)]
    [InlineData(32, 7, 2, 2)]
    public void MeasureConv2dAgainstFloat64(int inChannels, int kernel, int batch, int stride = 1)
    {
        using var scope = NewDisposeScope();
        manual_seed(inChannels * 10 + kernel);
        var x = randn([batch, inChannels, 56, 56]);
        var w = randn([64, inChannels, kernel, kernel]) * 0.1;
        var y32 = F.conv2d(x, w, strides: [stride, stride], padding: [kernel / 2, kernel / 2]);
        var y64 = F.conv2d(x.to(ScalarType.Float64), w.to(ScalarType.Float64), strides: [stride, stride], padding: [kernel / 2, kernel / 2]);
        double err2d = ((y32.to(ScalarType.Float64) - y64).norm() / y64.norm()).item<double>();
        var y3 = F.conv3d(x.unsqueeze(2), w.unsqueeze(2), strides: [1, stride, stride], padding: [0, kernel / 2, kernel / 2]).squeeze(2);
        double err3d = ((y3.to(ScalarType.Float64) - y64).norm() / y64.norm()).item<double>();
        log.WriteLine($"fp32 conv2d {kernel}x{kernel} stride {stride}, {inChannels} in, 64 out, batch {batch}, 56x56: relative L2 vs float64 {err2d:E2}; as conv3d 1x{kernel}x{kernel}: {err3d:E2}");
        Assert.True(double.IsFinite(err2d));
    }
}
