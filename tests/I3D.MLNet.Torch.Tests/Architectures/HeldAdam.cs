using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>
/// TorchSharp's Adam (no AMSGrad, no maximize) with its numbers in held Scalars, as the library's HeldSgd.SGD: the
/// architecture tests' optimizer (TorchSharp's own step makes temporary Scalars; see HeldScalars).
/// </summary>
internal sealed class HeldAdam(IEnumerable<TorchSharp.Modules.Parameter> parameters, double learningRate)
    : TorchSharp.Modules.Adam(parameters, learningRate)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value, lr = options.LearningRate!.Value;
        if (options.amsgrad!.Value || options.maximize!.Value || options.weight_decay!.Value != 0) throw new NotSupportedException("HeldAdam: plain Adam only");
        using var keep1 = beta1.ToScalar();
        using var fresh1 = (1 - beta1).ToScalar();
        using var keep2 = beta2.ToScalar();
        using var fresh2 = (1 - beta2).ToScalar();
        using var epsilon = eps.ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var state = (State)_state[param.Handle];
            state.step += 1;
            double correction1 = 1 - Math.Pow(beta1, state.step), correction2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(keep1).add_(grad, fresh1);
            state.exp_avg_sq.mul_(keep2).addcmul_(grad, grad, fresh2);
            using var root = Math.Sqrt(correction2).ToScalar();
            using var size = (-lr / correction1).ToScalar();
            var denominator = state.exp_avg_sq.sqrt().div_(root).add_(epsilon, I3D.MLNet.Torch.Numerics.HeldScalars.One);
            param.addcdiv_(state.exp_avg, denominator, size);
        }
    }, closure);
}
