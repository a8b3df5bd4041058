namespace I3D.MLNet.Video;

/// <summary>
/// How to turn decoded frames upright from a stream's display matrix (the <c>rotate</c> of a phone video), as the
/// <c>ffmpeg</c> command line's autorotation does (FFmpeg 5.1, fftools/ffmpeg_filter.c: <c>transpose</c>, <c>hflip</c>,
/// <c>vflip</c>), written as where an output pixel comes from: with <see cref="Swap"/>, output (x, y) reads the frame at
/// (y, x); then <see cref="FlipX"/> and <see cref="FlipY"/> mirror that source position. Angles that are not a multiple
/// of 90 degrees are left as decoded (ffmpeg would rotate by the angle and fill the corners).
/// </summary>
internal readonly record struct DisplayMatrix(bool Swap, bool FlipX, bool FlipY)
{
    public static DisplayMatrix Upright => default;

    public bool IsUpright => !Swap && !FlipX && !FlipY;

    /// <summary>The transform for a 3 x 3 display matrix (16.16 fixed point, row-major), or upright for none.</summary>
    public static DisplayMatrix Of(ReadOnlySpan<int> matrix)
    {
        if (matrix.Length < 9) return Upright;
        double theta = Rotation(matrix);
        if (double.IsNaN(theta)) return Upright;
        theta -= 360 * Math.Floor(theta / 360 + 0.9 / 360);
        if (Math.Abs(theta - 90) < 1) return matrix[3] > 0 ? new(true, false, false) : new(true, false, true);   // cclock_flip : clock
        if (Math.Abs(theta - 180) < 1) return new(false, matrix[0] < 0, matrix[4] < 0);                          // hflip, vflip
        if (Math.Abs(theta - 270) < 1) return matrix[3] < 0 ? new(true, true, true) : new(true, true, false);    // clock_flip : cclock
        if (Math.Abs(theta) > 1) return Upright;
        return new(false, false, matrix[4] < 0);                                                                 // vflip
    }

    /// <summary>The counter-clockwise rotation in degrees as ffmpeg reads it (-round(av_display_rotation_get)).</summary>
    private static double Rotation(ReadOnlySpan<int> m)
    {
        double a = m[0] / 65536.0, b = m[1] / 65536.0, c = m[3] / 65536.0, d = m[4] / 65536.0;
        double scale0 = Math.Sqrt(a * a + c * c), scale1 = Math.Sqrt(b * b + d * d);
        if (scale0 == 0 || scale1 == 0) return double.NaN;
        return -Math.Round(-(Math.Atan2(b / scale1, a / scale0) * 180 / Math.PI), MidpointRounding.AwayFromZero);
    }

    /// <summary>The displayed size of a decoded <paramref name="width"/> x <paramref name="height"/> frame.</summary>
    public (int Width, int Height) Displayed(int width, int height) => Swap ? (height, width) : (width, height);

    /// <summary>Writes <paramref name="source"/> (RGB rows of <paramref name="sourceStride"/> bytes, the decoded
    /// orientation) upright into <paramref name="target"/> (<paramref name="width"/> x <paramref name="height"/> RGB, packed).</summary>
    public unsafe void Apply(byte* source, int sourceStride, Span<byte> target, int width, int height)
    {
        int sourceWidth = Swap ? height : width, sourceHeight = Swap ? width : height;
        fixed (byte* t = target)
        {
            for (int y = 0; y < height; y++)
            {
                byte* row = t + (long)y * width * 3;
                for (int x = 0; x < width; x++)
                {
                    int sx = Swap ? y : x, sy = Swap ? x : y;
                    if (FlipX) sx = sourceWidth - 1 - sx;
                    if (FlipY) sy = sourceHeight - 1 - sy;
                    byte* p = source + (long)sy * sourceStride + sx * 3;
                    row[3 * x] = p[0];
                    row[3 * x + 1] = p[1];
                    row[3 * x + 2] = p[2];
                }
            }
        }
    }
}
