using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// Mixed-precision training on the CPU, as <c>torch.autocast</c> does it (TorchSharp has no autocast): inside a
/// <see cref="Use"/> scope every 3-D convolution of the networks (<see cref="Conv3dGuard"/>) computes in the scope's type
/// (bfloat16): its float32 input and weights are rounded at the call, its output stays in that type, and autograd's
/// backward of the rounding hands the float32 weights (the master copy the optimizer updates and the zip saves) float32
/// gradients. Everything else runs in the type it is given: BatchNorm keeps float32 parameters and statistics on
/// bfloat16 input (libtorch's mixed-type kernel), and the loss is taken on float32 logits. The scope belongs to the
/// thread that opened it, like autograd's own modes.
/// </summary>
internal static class MixedPrecision
{
    [ThreadStatic] private static ScalarType? computeType;

    /// <summary>The type 3-D convolutions compute in on this thread; null outside a scope.</summary>
    public static ScalarType? ComputeType => computeType;

    /// <summary>Convolutions on this thread compute in <paramref name="type"/> until disposed (null: as given).</summary>
    public static IDisposable Use(ScalarType? type)
    {
        var previous = computeType;
        computeType = type;
        return new Restore(() => computeType = previous);
    }

    /// <summary><paramref name="t"/> in the scope's type when it is float32 and a scope is open; else itself.</summary>
    public static Tensor Round(Tensor t) =>
        computeType is { } type && t.dtype == ScalarType.Float32 ? t.to(type) : t;
}
