using I3D.MLNet.Video;
using OpenCvSharp;

namespace I3D.MLNet.Tests.Flow;

/// <summary>Synthetic frame pairs with a known flow: a smooth analytic texture seen before and after a known motion.</summary>
internal static class FlowTestData
{
    /// <summary>A motion: where the point p of the first frame is in the second (its flow is Map(p) - p).</summary>
    public sealed record Motion(string Name, Func<double, double, (double X, double Y)> Map, Func<double, double, (double X, double Y)> Inverse);

    public static Motion Translation(double dx, double dy) =>
        new($"translation ({dx}, {dy})", (x, y) => (x + dx, y + dy), (x, y) => (x - dx, y - dy));

    public static Motion Rotation(double degrees, double cx, double cy)
    {
        double a = degrees * Math.PI / 180, c = Math.Cos(a), s = Math.Sin(a);
        return new($"rotation {degrees} deg",
            (x, y) => (cx + c * (x - cx) - s * (y - cy), cy + s * (x - cx) + c * (y - cy)),
            (x, y) => (cx + c * (x - cx) + s * (y - cy), cy - s * (x - cx) + c * (y - cy)));
    }

    public static Motion Zoom(double factor, double cx, double cy) =>
        new($"zoom x{factor}", (x, y) => (cx + factor * (x - cx), cy + factor * (y - cy)), (x, y) => (cx + (x - cx) / factor, cy + (y - cy) / factor));

    /// <summary>Sum of plane waves in several directions, wavelengths 6..24 px: texture everywhere, no aperture problem.</summary>
    public static double Texture(double x, double y, int seed)
    {
        var random = new Random(seed);
        double value = 128;
        for (int k = 0; k < 10; k++)
        {
            double angle = random.NextDouble() * Math.PI, wavelength = 6 + 18 * random.NextDouble(), phase = random.NextDouble() * 2 * Math.PI;
            double f = 2 * Math.PI / wavelength;
            value += 11 * Math.Sin(f * (Math.Cos(angle) * x + Math.Sin(angle) * y) + phase);
        }
        return value;
    }

    /// <summary>An RGB video of two frames (gray texture in all channels): the texture, then the texture moved by <paramref name="motion"/>.</summary>
    public static VideoFrames Pair(Motion motion, int width, int height, int seed = 7)
    {
        var frames = new VideoFrames(FrameElementKind.Rgb24, 2, height, width) { FramesPerSecond = 25, Source = motion.Name };
        var texture = new double[2][];
        for (int t = 0; t < 2; t++)
        {
            var bytes = frames.FrameBytes(t);
            for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (sx, sy) = t == 0 ? (x, y) : motion.Inverse(x, y);
                byte v = (byte)Math.Clamp(Math.Round(Texture(sx, sy, seed)), 0, 255);
                bytes[(y * width + x) * 3] = v;
                bytes[(y * width + x) * 3 + 1] = v;
                bytes[(y * width + x) * 3 + 2] = v;
            }
        }
        return frames;
    }

    /// <summary>Mean end-point error of <paramref name="flow"/> (H x W x 2) against the motion, <paramref name="margin"/> pixels away from the borders.</summary>
    public static double EndPointError(ReadOnlySpan<float> flow, Motion motion, int width, int height, int margin)
    {
        double sum = 0;
        int count = 0;
        for (int y = margin; y < height - margin; y++)
        for (int x = margin; x < width - margin; x++)
        {
            var (mx, my) = motion.Map(x, y);
            double ex = flow[(y * width + x) * 2] - (mx - x), ey = flow[(y * width + x) * 2 + 1] - (my - y);
            sum += Math.Sqrt(ex * ex + ey * ey);
            count++;
        }
        return sum / count;
    }

    /// <summary>Mean end-point error between two flows of the same shape.</summary>
    public static double EndPointError(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("flows of different sizes");
        double sum = 0;
        for (int i = 0; i < a.Length; i += 2)
        {
            double ex = a[i] - b[i], ey = a[i + 1] - b[i + 1];
            sum += Math.Sqrt(ex * ex + ey * ey);
        }
        return sum / (a.Length / 2);
    }

    /// <summary>Writes an MJPEG AVI of the texture sliding right by <paramref name="dx"/> pixels a frame (gray in all channels).</summary>
    public static string WriteSlidingTexture(string path, int frames, int width, int height, double dx, int seed = 11)
    {
        using var writer = new VideoWriter(path, FourCC.MJPG, 25, new OpenCvSharp.Size(width, height));
        if (!writer.IsOpened()) throw new InvalidOperationException($"cannot write {path}");
        using var frame = new Mat(height, width, MatType.CV_8UC3);
        for (int t = 0; t < frames; t++)
        {
            for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = (byte)Math.Clamp(Math.Round(Texture(x - dx * t, y, seed)), 0, 255);
                frame.At<Vec3b>(y, x) = new Vec3b(v, v, v);
            }
            writer.Write(frame);
        }
        return path;
    }
}
