using OpenCvSharp;

namespace I3D.MLNet.Tests;

/// <summary>Small videos and broken files made by the tests themselves (nothing downloaded, nothing committed).</summary>
internal static class TestVideos
{
    public static string TempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-tests", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Writes an MJPEG AVI: red is a horizontal gradient moving 3 px a frame, green a vertical one, blue
    /// encodes the frame index (t * 255 / (frames - 1)).</summary>
    public static string Write(string path, int frames, int width, int height, double fps = 25)
    {
        using var writer = new VideoWriter(path, FourCC.MJPG, fps, new Size(width, height));
        if (!writer.IsOpened()) throw new InvalidOperationException($"cannot write {path}");
        using var frame = new Mat(height, width, MatType.CV_8UC3);
        for (int t = 0; t < frames; t++)
        {
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    frame.At<Vec3b>(y, x) = new Vec3b((byte)(t * 255 / Math.Max(1, frames - 1)), (byte)(y * 255 / height), (byte)((x + t * 3) * 255 / (width + frames * 3)));
            writer.Write(frame);
        }
        return path;
    }

    public static string RandomBytes(string path, int length, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public static string Truncated(string source, string path, double fraction)
    {
        var bytes = File.ReadAllBytes(source);
        File.WriteAllBytes(path, bytes.AsSpan(0, (int)(bytes.Length * fraction)).ToArray());
        return path;
    }
}
