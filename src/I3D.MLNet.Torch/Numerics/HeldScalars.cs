using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// The numbers this library hands libtorch, each in a <see cref="Scalar"/> held until the call returns.
/// </summary>
/// <remarks>
/// TorchSharp (0.107) turns a .NET number into a native Scalar whose last reference dies as the native call starts: at
/// every implicit conversion at a call site (<c>t.mul(2)</c>, <c>t.fill_(1)</c>), in <c>add</c>'s and <c>add_</c>'s
/// default alpha (so <c>a + b</c> of two tensors), in the operators that take a number, in its optimizers' steps and in
/// BatchNorm's training forward (<c>num_batches_tracked.add_(1)</c>). When another thread starts a garbage collection
/// during that call, the finalizer thread may free the Scalar while libtorch still reads it. CI saw it as
/// "toDouble ... Expected false to be true" (the freed block's first bytes overwritten by the allocator); a block
/// reused for another Scalar would be read as a wrong number without any error. So every number goes through here,
/// <see cref="HeldBatchNorm"/> and <see cref="Training.HeldSgd.SGD"/>; <c>HeldScalarRuleTests</c> scans the compiled assemblies for
/// any call that makes a temporary Scalar.
/// </remarks>
internal static class HeldScalars
{
    /// <summary>1 (add's alpha, the batch counter's step), held by this field for the life of the process.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, double b)
    {
        using var s = b.ToScalar();
        return a.add(s, One);
    }

    /// <summary>a += b, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a * factor.</summary>
    public static Tensor Times(this Tensor a, double factor)
    {
        using var s = factor.ToScalar();
        return a.mul(s);
    }

    /// <summary>a / divisor.</summary>
    public static Tensor DividedBy(this Tensor a, double divisor)
    {
        using var s = divisor.ToScalar();
        return a.div(s);
    }

    /// <summary>Sets every element of <paramref name="a"/> to <paramref name="value"/>, in place.</summary>
    public static Tensor FillWith(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.fill_(s);
    }
}
