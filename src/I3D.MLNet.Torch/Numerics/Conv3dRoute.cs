using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// Ways to compute one 3-D convolution, all the same function. The first is the library's own call; the others route
/// around a kernel that computes wrong numbers (see <see cref="Conv3dGuard"/>), in the order of their measured cost
/// (benchmarks/RESULTS.md, "Convolution numerics").
/// </summary>
internal enum Conv3dRoute
{
    /// <summary><c>conv3d</c> as it is (one small clip as two halves: <see cref="Conv3dHalves"/>).</summary>
    Direct,

    /// <summary>Input and output channels zero-padded to a multiple of <see cref="Conv3dRoutes.ChannelBlock"/>, with zero
    /// weights (made at each call, never stored), and the extra outputs dropped: the same sums, another kernel.</summary>
    PaddedChannels,

    /// <summary>One clip at a time (batch 1, never as halves: a batch of two is what this route avoids), then concatenated.</summary>
    SplitBatch,

    /// <summary>In float32, rounded back: for a reduced-precision type (bfloat16, float16) whose own kernel is wrong. The
    /// same function, float32's rounding instead of the type's, at float32's cost.</summary>
    Float32,

    /// <summary>In float64, rounded back: the reference itself (slow; the last resort).</summary>
    Float64,
}

internal static class Conv3dRoutes
{
    /// <summary>
    /// oneDNN's AVX-512 float32 kernels work on channel blocks of 16 (one 512-bit register); with the channels a multiple
    /// of 16 no block is partly filled, which is where the wrong kernels were seen (24 and 40 channels, not 16 or 32).
    /// </summary>
    public const long ChannelBlock = 16;

    private static long RoundUp(long c) => (c + ChannelBlock - 1) / ChannelBlock * ChannelBlock;

    /// <summary>Whether <paramref name="route"/> computes something other than <see cref="Conv3dRoute.Direct"/> for this shape.</summary>
    public static bool Applies(Conv3dRoute route, Conv3dShape shape) => route switch
    {
        Conv3dRoute.PaddedChannels => RoundUp(shape.In) != shape.In || RoundUp(shape.Out) != shape.Out,
        Conv3dRoute.Float32 => shape.DType != nameof(ScalarType.Float32),
        _ => true,
    };

    /// <summary>The routes to try, in order of cost, for a shape whose direct call is wrong (or when forced).</summary>
    public static IEnumerable<Conv3dRoute> Workarounds(Conv3dShape shape) =>
        new[] { Conv3dRoute.PaddedChannels, Conv3dRoute.SplitBatch, Conv3dRoute.Float32, Conv3dRoute.Float64 }.Where(r => Applies(r, shape));

    public static string Describe(Conv3dRoute route, Conv3dShape shape) => route switch
    {
        Conv3dRoute.PaddedChannels => $"zero-padded channels ({RoundUp(shape.In)}->{RoundUp(shape.Out)})",
        Conv3dRoute.SplitBatch => "one clip at a time",
        Conv3dRoute.Float32 => "float32",
        Conv3dRoute.Float64 => "float64",
        _ => "the direct call",
    };

    /// <summary>The convolution of <paramref name="x"/> by <paramref name="route"/>; autograd flows through every route.</summary>
    public static Tensor Apply(Conv3dRoute route, Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding)
    {
        switch (route)
        {
            case Conv3dRoute.Direct:
                return Conv3dHalves.Conv3d(x, weight, bias, stride, padding);
            case Conv3dRoute.PaddedChannels:
            {
                using var scope = NewDisposeScope();
                long cin = weight.shape[1], cout = weight.shape[0], padIn = RoundUp(cin) - cin, padOut = RoundUp(cout) - cout;
                // F.pad lists dimensions from the last: (W, H, T, C) for the input, (kW, kH, kT, in, out) for the weight.
                var xp = padIn > 0 ? F.pad(x, [0, 0, 0, 0, 0, 0, 0, padIn]) : x;
                var wp = F.pad(weight, [0, 0, 0, 0, 0, 0, 0, padIn, 0, padOut]);
                var bp = bias is null || padOut == 0 ? bias : F.pad(bias, [0, padOut]);
                var y = Conv3dHalves.Conv3d(xp, wp, bp, stride, padding);
                return (padOut > 0 ? y.narrow(1, 0, cout) : y).MoveToOuterDisposeScope();
            }
            case Conv3dRoute.SplitBatch:
            {
                if (x.shape[0] == 1) return F.conv3d(x, weight, bias, strides: stride, padding: padding);
                using var scope = NewDisposeScope();
                var parts = x.split(1, 0).Select(clip => F.conv3d(clip, weight, bias, strides: stride, padding: padding)).ToList();
                return cat(parts, 0).MoveToOuterDisposeScope();
            }
            case Conv3dRoute.Float32:
                return InType(ScalarType.Float32, x, weight, bias, stride, padding);
            case Conv3dRoute.Float64:
                return InType(ScalarType.Float64, x, weight, bias, stride, padding);
            default:
                throw new ArgumentOutOfRangeException(nameof(route));
        }
    }

    /// <summary>The convolution computed in <paramref name="type"/> and rounded back to the input's type.</summary>
    private static Tensor InType(ScalarType type, Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding)
    {
        using var scope = NewDisposeScope();
        var y = F.conv3d(x.to(type), weight.to(type), bias?.to(type), strides: stride, padding: padding);
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }
}
