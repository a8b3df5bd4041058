using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// A float32 CPU <c>conv3d</c> of one clip computed as a batch of two: the two halves of its output along one axis, each
/// from its own window of the (zero-padded) input. libtorch 2.10 gives a one-clip call whose input is small (channels x
/// frames x height at most 20480, the kernel at most 3 wide in height or width) to its own im2col + GEMM path instead of
/// oneDNN; on AMD Zen 5 that path ran I3D's Mixed_4 and Mixed_5 3x3x3 convolutions at 106-153 GFLOP/s, the halves at
/// 200-319, 1.4-2.5x faster (benchmarks/RESULTS.md, "One-clip convolutions"). Batches of two always go to oneDNN, and
/// the convolution check judges the halves as it judges any batch of two. The halves hold the same sums;
/// when the axis' output length is odd the second half computes one extra output slice, which is dropped. Autograd flows
/// through the windows and the join.
/// </summary>
internal static class Conv3dHalves
{
    /// <summary>libtorch's bound on N x C x T x H below which it computes a one-clip float32 convolution itself.</summary>
    private const long LibtorchSmallInput = 20480;

    /// <summary>Whether libtorch would compute this call without oneDNN, so that halves help.</summary>
    public static bool Applies(Tensor x, Tensor weight)
        => x.shape[0] == 1 && x.dtype == ScalarType.Float32 && x.device_type == DeviceType.CPU
           && !(weight.shape[3] > 3 && weight.shape[4] > 3)
           && x.shape[1] * x.shape[2] * x.shape[3] <= LibtorchSmallInput;

    /// <summary><c>conv3d(x, weight, bias)</c> with symmetric <paramref name="padding"/>, as two halves where <see cref="Applies"/>.</summary>
    public static Tensor Conv3d(Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding)
    {
        if (!Applies(x, weight)) return F.conv3d(x, weight, bias, strides: stride, padding: padding);
        long[] kernel = weight.shape[2..];
        long[] output = [.. Enumerable.Range(0, 3).Select(d => (x.shape[2 + d] + 2 * padding[d] - kernel[d]) / stride[d] + 1)];
        // The axis: the first whose output splits evenly, else the longest (one extra slice); none when every output is 1.
        int axis = Enumerable.Range(0, 3).FirstOrDefault(d => output[d] >= 2 && output[d] % 2 == 0, -1);
        if (axis < 0) axis = Enumerable.Range(0, 3).MaxBy(d => output[d]);
        if (output[axis] < 2) return F.conv3d(x, weight, bias, strides: stride, padding: padding);

        using var scope = NewDisposeScope();
        int dim = 2 + axis;
        long half = (output[axis] + 1) / 2, window = (half - 1) * stride[axis] + kernel[axis];
        // Pad the axis on both sides as the call would, and at the end as far as the second window reaches.
        long before = padding[axis], after = Math.Max(padding[axis], half * stride[axis] + window - x.shape[dim] - before);
        long[] pad = new long[6]; // F.pad lists (W, H, T) pairs from the last dimension
        pad[2 * (2 - axis)] = before;
        pad[2 * (2 - axis) + 1] = after;
        var padded = before == 0 && after == 0 ? x : F.pad(x, pad); // the windows are copied into the batch anyway
        var pieces = cat([padded.narrow(dim, 0, window), padded.narrow(dim, half * stride[axis], window)], 0);
        long[] rest = [.. padding];
        rest[axis] = 0;
        var y = F.conv3d(pieces, weight, bias, strides: stride, padding: rest);
        var joined = cat([y.narrow(0, 0, 1), y.narrow(0, 1, 1)], dim);
        return (output[axis] % 2 == 0 ? joined : joined.narrow(dim, 0, output[axis])).MoveToOuterDisposeScope();
    }
}
