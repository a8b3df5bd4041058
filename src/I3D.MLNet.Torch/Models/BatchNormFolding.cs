using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// An eval-mode BatchNorm folded into the convolution or fully connected layer before it: w * gamma / sqrt(var + eps)
/// and (b - mean) * gamma / sqrt(var + eps) + beta, the same affine map with one pass less over the activations. One
/// rule for the networks' folded inference and every ONNX export (1-, 2- and 3-D): computed in float64, returned in the
/// weight's type and device.
/// </summary>
internal static class BatchNormFolding
{
    public static (Tensor Weight, Tensor Bias) Fold(Tensor weight, Tensor? bias, BatchNorm? bn)
    {
        using var scope = NewDisposeScope();
        var type = weight.dtype;
        long outChannels = weight.shape[0];
        Tensor Wide(Tensor t) => t.to(weight.device).to(ScalarType.Float64);
        var w = Wide(weight);
        var b = bias is null ? zeros(outChannels, ScalarType.Float64, weight.device) : Wide(bias);
        if (bn is not null)
        {
            var (scale, shift) = Affine(bn, weight.device);
            w = w * scale.view([outChannels, .. Enumerable.Repeat(1L, (int)weight.dim() - 1)]);
            b = (b * scale).Plus(shift);
        }
        return (w.to(type).MoveToOuterDisposeScope(), b.to(type).MoveToOuterDisposeScope());
    }

    /// <summary>The eval-mode BatchNorm as y = x scale + shift, in float64 on <paramref name="device"/> (the CPU by default).</summary>
    public static (Tensor Scale, Tensor Shift) Affine(BatchNorm bn, Device? device = null)
    {
        using var scope = NewDisposeScope();
        device ??= CPU;
        Tensor Wide(Tensor t) => t.detach().to(device).to(ScalarType.Float64);
        long c = bn.running_mean!.shape[0];
        var gamma = bn.weight is null ? ones(c, ScalarType.Float64, device) : Wide(bn.weight);
        var beta = bn.bias is null ? zeros(c, ScalarType.Float64, device) : Wide(bn.bias);
        var scale = gamma / Wide(bn.running_var!).Plus(bn.eps).sqrt();
        var shift = beta - Wide(bn.running_mean!) * scale;
        return (scale.MoveToOuterDisposeScope(), shift.MoveToOuterDisposeScope());
    }
}
