using OpenCvSharp;

namespace I3D.MLNet.Datasets;

/// <summary>Options of <see cref="SyntheticMotion.Write"/>.</summary>
public sealed record SyntheticMotionOptions
{
    /// <summary>Training videos per class (test videos: half as many, at least one).</summary>
    public int PerClass { get; init; } = 16;

    /// <summary>Test videos per class; <c>null</c> for max(1, PerClass / 2).</summary>
    public int? TestPerClass { get; init; }

    /// <summary>Frames per video.</summary>
    public int Frames { get; init; } = 32;

    /// <summary>Frame height and width in pixels (square frames), 32..1024.</summary>
    public int Size { get; init; } = 128;

    /// <summary>Frame rate written into the files.</summary>
    public double FramesPerSecond { get; init; } = 25;

    /// <summary>Seed of every random choice: the same seed writes the same videos.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>How many of <see cref="SyntheticMotion.Classes"/> to write, in order: 4 (the four directions of
    /// movement) or 6 (also turning clockwise and anticlockwise). Default 6.</summary>
    public int Classes { get; init; } = 6;

    internal void Validate()
    {
        if (Classes is < 2 or > 6) throw new ArgumentOutOfRangeException(nameof(Classes), Classes, "2..6 classes");
        if (PerClass < 1) throw new ArgumentOutOfRangeException(nameof(PerClass), PerClass, "at least one video per class");
        if (TestPerClass is < 0) throw new ArgumentOutOfRangeException(nameof(TestPerClass), TestPerClass, "cannot be negative");
        if (Frames < 2) throw new ArgumentOutOfRangeException(nameof(Frames), Frames, "motion needs at least 2 frames");
        if (Size is < 32 or > 1024) throw new ArgumentOutOfRangeException(nameof(Size), Size, "the frame size must be 32..1024");
    }
}

/// <summary>
/// A synthetic action dataset whose class is only in the motion: a textured disc on a still textured background moving
/// left, right, up or down, or turning clockwise or anticlockwise. Every class draws its start position, angle,
/// textures and speed from the same distributions, so a single frame says nothing about the class; two frames do.
/// Videos are written as MJPEG AVI files in the folder-per-class layout under <c>DIR/train</c> and <c>DIR/test</c>.
/// </summary>
public static class SyntheticMotion
{
    /// <summary>The class names, in class order (folder names under <c>train</c> and <c>test</c>).</summary>
    public static readonly IReadOnlyList<string> Classes = ["move_left", "move_right", "move_up", "move_down", "turn_clockwise", "turn_anticlockwise"];

    /// <summary>Writes the dataset; returns the number of videos written. Reports (done, total) progress.</summary>
    public static int Write(string directory, SyntheticMotionOptions options, IProgress<(int Done, int Total)>? progress = null)
    {
        options.Validate();
        NativeDependencies.EnsureOpenCv();
        int test = options.TestPerClass ?? Math.Max(1, options.PerClass / 2);
        int total = options.Classes * (options.PerClass + test), done = 0;
        // Each video draws from its own generator, seeded in this order: the files are the same whichever core writes them.
        var random = new Random(options.Seed);
        var videos = new List<(string Path, int Label, int Seed)>(total);
        foreach (var (split, count) in new[] { ("train", options.PerClass), ("test", test) })
        {
            for (int c = 0; c < options.Classes; c++)
            {
                string folder = Path.Combine(directory, split, Classes[c]);
                Directory.CreateDirectory(folder);
                for (int i = 0; i < count; i++) videos.Add((Path.Combine(folder, $"{Classes[c]}_{i:D3}.avi"), c, random.Next()));
            }
        }
        // One video per core; a failure (a full disk) is the first video's in this order, as when written one by one.
        var errors = new Exception?[videos.Count];
        Parallel.For(0, videos.Count, i =>
        {
            try { WriteVideo(videos[i].Path, videos[i].Label, options, new Random(videos[i].Seed)); }
            catch (Exception e) { errors[i] = e; return; }
            progress?.Report((Interlocked.Increment(ref done), total));
        });
        if (errors.FirstOrDefault(e => e is not null) is { } error) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return total;
    }

    private static void WriteVideo(string path, int label, SyntheticMotionOptions options, Random random)
    {
        int size = options.Size;
        using var background = Texture(size * 2, random);
        using var patchTexture = Texture(size, random);
        int side = size / 2;
        double speed = size * (0.025 + 0.015 * random.NextDouble());       // pixels per frame: 3.2-5.1 at 128
        double turn = 6 + 4 * random.NextDouble();                         // degrees per frame: 3.4-5.6 px at the rim
        double angle = random.NextDouble() * 360;
        var centre = new Point2d(size * (0.3 + 0.4 * random.NextDouble()), size * (0.3 + 0.4 * random.NextDouble()));
        // A random part of a larger background texture, still: only the disc moves.
        var backgroundOrigin = new Point(random.Next(size), random.Next(size));

        using var square = new Mat(side, side, MatType.CV_8UC3);
        using var mask = new Mat(side, side, MatType.CV_8UC1);
        using var full = new Mat(side, side, MatType.CV_8UC1, Scalar.All(255));
        // A disc cut from the rotated square: the outline does not show the angle, the texture does.
        using var disc = new Mat(side, side, MatType.CV_8UC1, Scalar.All(0));
        Cv2.Circle(disc, new Point(side / 2, side / 2), side / 2 - 1, Scalar.All(255), -1);
        SyntheticVideoFile.Write(path, options.FramesPerSecond, size, options.Frames, (t, frame) =>
        {
            background[new Rect(backgroundOrigin.X, backgroundOrigin.Y, size, size)].CopyTo(frame);

            var c = centre;
            double a = angle;
            switch (label)
            {
                case 0: c.X -= speed * t; break;
                case 1: c.X += speed * t; break;
                case 2: c.Y -= speed * t; break;
                case 3: c.Y += speed * t; break;
                case 4: a -= turn * t; break; // OpenCV angles are anticlockwise on screen
                case 5: a += turn * t; break;
            }
            // Wrap around so that a moving square never leaves the frame.
            c.X = ((c.X % size) + size) % size;
            c.Y = ((c.Y % size) + size) % size;
            using var rotation = Cv2.GetRotationMatrix2D(new Point2f(side / 2f, side / 2f), a, 1.0);
            Cv2.WarpAffine(patchTexture[new Rect(0, 0, side, side)], square, rotation, new Size(side, side), InterpolationFlags.Linear, BorderTypes.Reflect);
            Cv2.WarpAffine(full, mask, rotation, new Size(side, side), InterpolationFlags.Nearest, BorderTypes.Constant, Scalar.All(0));
            Cv2.BitwiseAnd(mask, disc, mask);
            Paste(frame, square, mask, (int)Math.Round(c.X) - side / 2, (int)Math.Round(c.Y) - side / 2);
        });
    }

    /// <summary>Pastes <paramref name="patch"/> where <paramref name="mask"/> is set, wrapping around the frame's edges.</summary>
    private static void Paste(Mat frame, Mat patch, Mat mask, int left, int top)
    {
        int size = frame.Rows, side = patch.Rows;
        for (int dy = -size; dy <= size; dy += size)
            for (int dx = -size; dx <= size; dx += size)
            {
                var target = new Rect(left + dx, top + dy, side, side);
                var visible = target & new Rect(0, 0, size, size);
                if (visible.Width <= 0 || visible.Height <= 0) continue;
                var source = new Rect(visible.X - target.X, visible.Y - target.Y, visible.Width, visible.Height);
                patch[source].CopyTo(frame[visible], mask[source]);
            }
    }

    /// <summary>Smooth random colour blobs plus fine noise: texture that optical flow and convolutions can track.</summary>
    private static Mat Texture(int size, Random random)
    {
        var noise = new Mat(size / 8, size / 8, MatType.CV_8UC3);
        var bytes = new byte[noise.Rows * noise.Cols * 3];
        random.NextBytes(bytes);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, noise.Data, bytes.Length);
        var texture = new Mat();
        Cv2.Resize(noise, texture, new Size(size, size), 0, 0, InterpolationFlags.Cubic);
        var fine = new Mat(size, size, MatType.CV_8UC3);
        var fineBytes = new byte[size * size * 3];
        random.NextBytes(fineBytes);
        for (int i = 0; i < fineBytes.Length; i++) fineBytes[i] = (byte)(fineBytes[i] / 4);
        System.Runtime.InteropServices.Marshal.Copy(fineBytes, 0, fine.Data, fineBytes.Length);
        Cv2.AddWeighted(texture, 0.8, fine, 0.8, 0, texture);
        noise.Dispose();
        fine.Dispose();
        return texture;
    }
}
