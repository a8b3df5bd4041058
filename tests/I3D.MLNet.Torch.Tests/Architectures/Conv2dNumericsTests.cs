using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Tests.Numerics;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>
/// The 2-D networks' convolutions (BasicConv2d, through Conv3dGuard) against float64, at batch 2 and 56 x 56, for the
/// shapes libtorch's float32 conv2d gets wrong on the AMD Zen 5 machine (24 or 40 channels 3x3; the flow tower's 20
/// channels 7x7 stride 2): what libtorch's direct conv2d gives is printed, the guarded result must be right anywhere.
/// </summary>
[Collection(ConvolutionCheckCollection.Name)]
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
    public void GuardedConv2dMatchesFloat64(int inChannels, int kernel, int batch, int stride = 1)
    {
        using var scope = NewDisposeScope();
        manual_seed(inChannels * 10 + kernel);
        using var unit = new BasicConv2d(inChannels, 64, kernel, stride, kernel / 2);
        unit.eval();
        var x = randn([batch, inChannels, 56, 56]);
        var w = unit.Conv.weight!.detach();
        var direct = F.conv2d(x, w, strides: [stride, stride], padding: [kernel / 2, kernel / 2]);
        var reference = F.conv2d(x.to(ScalarType.Float64), w.to(ScalarType.Float64), strides: [stride, stride], padding: [kernel / 2, kernel / 2]);
        var bn = unit.BatchNorm;
        var deviation = bn.running_var!.Plus(bn.eps).sqrt();
        var shift = (bn.bias!.detach() - bn.running_mean! * bn.weight!.detach() / deviation).to(ScalarType.Float64);
        var scale = (bn.weight!.detach() / deviation).to(ScalarType.Float64);
        var expected = (reference * scale.view(1, -1, 1, 1)).Plus(shift.view(1, -1, 1, 1)).relu();
        double guarded = TestPaths.RelativeL2(unit.forward(x), expected), raw = TestPaths.RelativeL2(direct, reference);
        log.WriteLine($"{MachineIdentity.Cpu}: conv2d {kernel}x{kernel} stride {stride}, {inChannels} -> 64, batch {batch}, 56x56: libtorch's fp32 conv2d {raw:E2} vs float64; BasicConv2d through the guard {guarded:E2}");
        Assert.True(guarded < 2e-5, $"guarded relative error {guarded} (direct {raw})");
    }
}
