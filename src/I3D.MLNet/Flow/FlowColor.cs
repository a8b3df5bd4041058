namespace I3D.MLNet.Flow;

/// <summary>
/// Colour coding of flow for looking at it: the Middlebury colour wheel (Baker et al., "A Database and Evaluation
/// Methodology for Optical Flow", 2007/2011): hue from the direction, saturation from the magnitude relative to a maximum.
/// </summary>
public static class FlowColor
{
    // Hue transitions red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red: 55 colours.
    private static readonly (byte R, byte G, byte B)[] Wheel = BuildWheel();

    private static (byte, byte, byte)[] BuildWheel()
    {
        const int ry = 15, yg = 6, gc = 4, cb = 11, bm = 13, mr = 6;
        var wheel = new List<(byte, byte, byte)>();
        for (int i = 0; i < ry; i++) wheel.Add((255, (byte)(255 * i / ry), 0));
        for (int i = 0; i < yg; i++) wheel.Add(((byte)(255 - 255 * i / yg), 255, 0));
        for (int i = 0; i < gc; i++) wheel.Add((0, 255, (byte)(255 * i / gc)));
        for (int i = 0; i < cb; i++) wheel.Add((0, (byte)(255 - 255 * i / cb), 255));
        for (int i = 0; i < bm; i++) wheel.Add(((byte)(255 * i / bm), 0, 255));
        for (int i = 0; i < mr; i++) wheel.Add((255, 0, (byte)(255 - 255 * i / mr)));
        return [.. wheel];
    }

    /// <summary>Largest displacement length in <paramref name="flow"/> (x, y interleaved), ignoring non-finite values.</summary>
    public static float MaximumRadius(ReadOnlySpan<float> flow)
    {
        float max = 0;
        for (int i = 0; i + 1 < flow.Length; i += 2)
        {
            float r = MathF.Sqrt(flow[i] * flow[i] + flow[i + 1] * flow[i + 1]);
            if (float.IsFinite(r) && r > max) max = r;
        }
        return max;
    }

    /// <summary>Colours one flow frame (H x W x 2, x then y) into RGB bytes (H x W x 3); a displacement of
    /// <paramref name="maxRadius"/> gets full saturation, zero motion is white.</summary>
    public static void ToRgb(ReadOnlySpan<float> flow, float maxRadius, Span<byte> rgb)
    {
        int pixels = flow.Length / 2;
        if (rgb.Length < pixels * 3) throw new ArgumentException("the RGB buffer is smaller than the flow frame");
        float scale = maxRadius > 0 ? 1 / maxRadius : 0;
        int n = Wheel.Length;
        for (int p = 0; p < pixels; p++)
        {
            float u = flow[2 * p] * scale, v = flow[2 * p + 1] * scale;
            if (!float.IsFinite(u) || !float.IsFinite(v)) { u = 0; v = 0; }
            float radius = MathF.Sqrt(u * u + v * v);
            float angle = MathF.Atan2(-v, -u) / MathF.PI; // -1..1
            float position = (angle + 1) / 2 * (n - 1);
            int k0 = (int)MathF.Floor(position), k1 = (k0 + 1) % n;
            float f = position - k0;
            k0 %= n;
            Span<float> channel = [0, 0, 0];
            var (a, b) = (Wheel[k0], Wheel[k1]);
            channel[0] = ((1 - f) * a.R + f * b.R) / 255f;
            channel[1] = ((1 - f) * a.G + f * b.G) / 255f;
            channel[2] = ((1 - f) * a.B + f * b.B) / 255f;
            for (int c = 0; c < 3; c++)
            {
                float value = radius <= 1 ? 1 - radius * (1 - channel[c]) : channel[c] * 0.75f;
                rgb[3 * p + c] = (byte)MathF.Round(255 * Math.Clamp(value, 0, 1));
            }
        }
    }
}
