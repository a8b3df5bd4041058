using TorchSharp.Modules;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Models;

/// <summary>
/// An eval-mode BatchNorm folded into the convolution before it: w * gamma / sqrt(var + eps) and
/// (b - mean) * gamma / sqrt(var + eps) + beta, the same affine map with one pass less over the activations. One rule for
/// the networks' folded inference and the ONNX export: computed in float64, returned in the weight's type and device.
/// </summary>
internal static class BatchNormFolding
{
    public static (Tensor Weight, Tensor Bias) Fold(Tensor weight, Tensor? bias, BatchNorm3d? bn)
    {
        using var scope = NewDisposeScope();
        var type = weight.dtype;
        long outChannels = weight.shape[0];
        Tensor Wide(Tensor t) => t.to(weight.device).to(ScalarType.Float64);
        var w = Wide(weight);
        var b = bias is null ? zeros(outChannels, ScalarType.Float64, weight.device) : Wide(bias);
        if (bn is not null)
        {
            var gamma = bn.weight is null ? ones(outChannels, ScalarType.Float64, weight.device) : Wide(bn.weight);
            var beta = bn.bias is null ? zeros(outChannels, ScalarType.Float64, weight.device) : Wide(bn.bias);
            var scale = gamma / (Wide(bn.running_var!) + bn.eps).sqrt();
            w = w * scale.view(-1, 1, 1, 1, 1);
            b = (b - Wide(bn.running_mean!)) * scale + beta;
        }
        return (w.to(type).MoveToOuterDisposeScope(), b.to(type).MoveToOuterDisposeScope());
    }
}
