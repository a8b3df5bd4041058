using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Training;

/// <summary>The trainer's optimizer: <see cref="SGD"/>.</summary>
internal static class HeldSgd
{
    /// <summary>
    /// TorchSharp's <see cref="TorchSharp.Modules.SGD"/> (its options, parameter groups, momentum buffers and saved state)
    /// whose step passes its numbers in held Scalars. TorchSharp's own step passes weight decay, 1 - dampening and -lr as
    /// temporary Scalars, per parameter and step, which the finalizer may free while libtorch reads them
    /// (<see cref="HeldScalars"/>). The same update (PyTorch's): g = grad + weight_decay * p; buf = momentum * buf +
    /// (1 - dampening) * g, or g itself at the first step; p -= lr * buf (Nesterov: p -= lr * (g + momentum * buf)).
    /// Named SGD as TorchSharp's is: <c>save_state_dict</c> writes the type's name and <c>load_state_dict</c> refuses
    /// another, so a checkpoint resumes whichever of the two wrote it.
    /// </summary>
    public sealed class SGD(IEnumerable<TorchSharp.Modules.Parameter> parameters, double learningRate, double momentum, double weightDecay)
        : TorchSharp.Modules.SGD(parameters, learningRate, momentum, weight_decay: weightDecay)
    {
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = group.Options;
            double momentum = options.momentum!.Value, dampening = options.dampening!.Value, weightDecay = options.weight_decay!.Value;
            double lr = options.LearningRate!.Value;
            using var decay = weightDecay.ToScalar();
            using var keep = momentum.ToScalar();
            using var fresh = (1 - dampening).ToScalar();
            using var rate = (options.maximize!.Value ? lr : -lr).ToScalar();
            foreach (var param in group.Parameters)
            {
                var grad = param.grad;
                if (grad is null) continue;
                if (weightDecay != 0) grad = grad.add(param, decay);
                if (momentum != 0)
                {
                    var state = (State)_state[param.Handle];
                    var buf = state.momentum_buffer;
                    if (buf is null) state.momentum_buffer = buf = grad.clone().detach().DetachFromDisposeScope();
                    else buf.mul_(keep).add_(grad, fresh);
                    grad = options.nesterov!.Value ? grad.add(buf, keep) : buf;
                }
                param.add_(grad, rate);
            }
        }, closure);
    }
}
