namespace I3D.MLNet.Torch.Models;

/// <summary>
/// TensorFlow "SAME" padding, computed from the size of each input (the original I3D is a TensorFlow model):
/// the output has ceil(size / stride) positions and, when the total padding is odd, the extra row goes at the end.
/// </summary>
internal static class TfSamePadding
{
    /// <summary>Total padding for one dimension.</summary>
    public static long Total(long size, long kernel, long stride) =>
        size % stride == 0 ? Math.Max(kernel - stride, 0) : Math.Max(kernel - size % stride, 0);

    /// <summary>
    /// Paddings of the last three dimensions of an (N, C, T, H, W) input in <c>torch.nn.functional.pad</c> order
    /// (W front, W back, H front, H back, T front, T back), and whether every dimension is padded symmetrically.
    /// </summary>
    public static (long[] Pad, bool Symmetric) ForInput(ReadOnlySpan<long> shape, long[] kernel, long[] stride)
    {
        var pad = new long[6];
        bool symmetric = true;
        for (int d = 0; d < 3; d++)
        {
            long total = Total(shape[2 + d], kernel[d], stride[d]);
            long front = total / 2, back = total - front;
            pad[4 - 2 * d] = front;
            pad[5 - 2 * d] = back;
            symmetric &= front == back;
        }
        return (pad, symmetric);
    }

    /// <summary>The per-dimension (T, H, W) padding of a symmetric <see cref="ForInput"/> result.</summary>
    public static long[] Symmetric(long[] pad) => [pad[4], pad[2], pad[0]];

    public static bool IsZero(long[] pad) => pad.All(p => p == 0);
}
