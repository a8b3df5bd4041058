namespace I3D.MLNet.Clips;

/// <summary>
/// Converts between our clip layout N x C x T x H x W (TorchSharp / ONNX) and kinetics-i3d's sample layout
/// N x T x H x W x C (its .npy files).
/// </summary>
internal static class ClipLayout
{
    public static float[] ToChannelsLast(ReadOnlySpan<float> ncthw, int n, int c, int t, int h, int w)
    {
        var result = new float[ncthw.Length];
        ToChannelsLast(ncthw, result, n, c, t, h, w);
        return result;
    }

    /// <summary>Writes <paramref name="ncthw"/> into <paramref name="result"/> (same length) as N T H W C.</summary>
    public static void ToChannelsLast(ReadOnlySpan<float> ncthw, Span<float> result, int n, int c, int t, int h, int w)
    {
        CheckLength(ncthw.Length, n, c, t, h, w);
        CheckLength(result.Length, n, c, t, h, w);
        int hw = h * w;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int f = 0; f < t; f++)
                {
                    var src = ncthw.Slice(((i * c + ch) * t + f) * hw, hw);
                    int baseDst = (i * t + f) * hw * c + ch;
                    for (int p = 0; p < hw; p++) result[baseDst + p * c] = src[p];
                }
    }

    public static float[] ToChannelsFirst(ReadOnlySpan<float> nthwc, int n, int t, int h, int w, int c)
    {
        CheckLength(nthwc.Length, n, c, t, h, w);
        var result = new float[nthwc.Length];
        int hw = h * w;
        for (int i = 0; i < n; i++)
            for (int f = 0; f < t; f++)
            {
                var src = nthwc.Slice((i * t + f) * hw * c, hw * c);
                for (int ch = 0; ch < c; ch++)
                {
                    int baseDst = ((i * c + ch) * t + f) * hw;
                    for (int p = 0; p < hw; p++) result[baseDst + p] = src[p * c + ch];
                }
            }
        return result;
    }

    private static void CheckLength(int length, int n, int c, int t, int h, int w)
    {
        long expected = (long)n * c * t * h * w;
        if (expected != length) throw new ArgumentException($"a clip of {n}x{c}x{t}x{h}x{w} has {expected} values, not {length}");
    }
}
