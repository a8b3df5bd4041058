using System.Runtime.InteropServices;
using OpenCvSharp;

namespace I3D.MLNet.Datasets;

/// <summary>Random textures for synthetic videos: smooth colour blobs plus fine noise, which optical flow and
/// convolutions can track.</summary>
internal static class SyntheticTexture
{
    /// <summary>A <paramref name="size"/> x <paramref name="size"/> 8-bit BGR texture drawn from <paramref name="random"/>.</summary>
    public static Mat Create(int size, Random random)
    {
        int coarse = Math.Max(2, size / 8);
        using var noise = RandomBytes(coarse, coarse, random, 1);
        var texture = new Mat();
        Cv2.Resize(noise, texture, new Size(size, size), 0, 0, InterpolationFlags.Cubic);
        using var fine = RandomBytes(size, size, random, 4);
        Cv2.AddWeighted(texture, 0.8, fine, 0.8, 0, texture);
        return texture;
    }

    /// <summary>The texture tinted towards <paramref name="colour"/>: <c>(1 - weight) * texture + weight * colour</c>.</summary>
    public static void Tint(Mat texture, Scalar colour, double weight)
    {
        using var flat = new Mat(texture.Rows, texture.Cols, texture.Type(), colour);
        Cv2.AddWeighted(texture, 1 - weight, flat, weight, 0, texture);
    }

    /// <summary>A random saturated, bright BGR colour (hue uniform).</summary>
    public static Scalar Colour(Random random)
    {
        using var hsv = new Mat(1, 1, MatType.CV_8UC3, new Scalar(random.Next(180), 150 + random.Next(106), 170 + random.Next(86)));
        using var bgr = new Mat();
        Cv2.CvtColor(hsv, bgr, ColorConversionCodes.HSV2BGR);
        var pixel = bgr.At<Vec3b>(0, 0);
        return new Scalar(pixel.Item0, pixel.Item1, pixel.Item2);
    }

    private static Mat RandomBytes(int rows, int cols, Random random, int divisor)
    {
        var mat = new Mat(rows, cols, MatType.CV_8UC3);
        var bytes = new byte[rows * cols * 3];
        random.NextBytes(bytes);
        if (divisor > 1)
            for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(bytes[i] / divisor);
        Marshal.Copy(bytes, 0, mat.Data, bytes.Length);
        return mat;
    }
}
