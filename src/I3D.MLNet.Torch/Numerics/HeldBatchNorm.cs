using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// BatchNorm over (N, C) or (N, C, L), (N, C, H, W) or (N, C, T, H, W) input: TorchSharp's <see cref="BatchNorm"/> (the same
/// parameters, buffers, state_dict keys and arithmetic) whose training forward counts its batches with a held Scalar.
/// TorchSharp's own counts them with <c>num_batches_tracked.add_(1)</c>, two temporary Scalars the finalizer may free
/// while libtorch reads them (<see cref="HeldScalars"/>), on every BatchNorm of every training step.
/// </summary>
internal sealed class HeldBatchNorm : BatchNorm
{
    private readonly int spatialDims;

    private HeldBatchNorm(int spatialDims, long features, double eps, double momentum)
        : base(features, eps, momentum, affine: true, track_running_stats: true, device: null, dtype: null, $"BatchNorm{spatialDims}d")
    {
        this.spatialDims = spatialDims;
    }

    /// <summary>BatchNorm1d: (N, C) or (N, C, L) input.</summary>
    public static HeldBatchNorm Over1d(long features, double eps = 1e-5, double momentum = 0.1) => new(1, features, eps, momentum);

    /// <summary>BatchNorm2d: (N, C, H, W) input.</summary>
    public static HeldBatchNorm Over2d(long features, double eps = 1e-5, double momentum = 0.1) => new(2, features, eps, momentum);

    /// <summary>BatchNorm3d: (N, C, T, H, W) input.</summary>
    public static HeldBatchNorm Over3d(long features, double eps = 1e-5, double momentum = 0.1) => new(3, features, eps, momentum);

    protected override void ValidateInputDimensions(Tensor input)
    {
        bool fits = spatialDims == 1 ? input.ndim is 2 or 3 : input.ndim == spatialDims + 2;
        if (!fits)
            throw new ArgumentException($"{GetName()} expects {(spatialDims == 1 ? "(N, C) or (N, C, L)" : spatialDims == 2 ? "(N, C, H, W)" : "(N, C, T, H, W)")} input, got shape ({string.Join(", ", input.shape)})");
    }

    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is { } count)
        {
            count.add_(HeldScalars.One, HeldScalars.One);
            // momentum null: the cumulative average over the batches seen (precise BatchNorm statistics).
            if (momentum is null)
            {
                using var seen = count.to(ScalarType.Float64, CPU);
                factor = 1.0 / seen.item<double>();
            }
        }
        bool batchStatistics = training || running_mean is null && running_var is null;
        bool useRunning = !training || track_running_stats;
        return F.batch_norm(input, useRunning ? running_mean : null, useRunning ? running_var : null, weight, bias, batchStatistics, factor, eps);
    }
}
