using I3D.MLNet.Video;
using SkiaSharp;

namespace I3D.MLNet.Interactive.Pictures;

/// <summary>
/// Pictures of videos, clips and optical flow: image strips (evenly spaced frames side by side, several rows stacked)
/// and looping animated GIFs. Flow is colour-coded with the Middlebury wheel (hue = direction, saturation = speed).
/// Frames are scaled to <c>height</c> rows by nearest neighbour (pixels stay pixels).
/// </summary>
public static class ClipPicture
{
    private const int Gap = 4;

    /// <summary>Up to <paramref name="maxFrames"/> evenly spaced frames of a video (RGB or flow) side by side.</summary>
    public static PngPicture Strip(VideoFrames frames, int maxFrames = 8, int height = 112) =>
        Strips([FrameSequence.From(frames)], maxFrames, height);

    /// <summary>Several videos (e.g. the frames and their flow), one strip per row, same frame positions.</summary>
    public static PngPicture Strips(IEnumerable<VideoFrames> rows, int maxFrames = 8, int height = 112) =>
        Strips([.. rows.Select(FrameSequence.From)], maxFrames, height);

    /// <summary>Clip <paramref name="clip"/> of a sampled clip column value, as a strip.</summary>
    public static PngPicture Strip(Clip value, int clip = 0, int maxFrames = 8, int height = 112) =>
        Strips([value.Sequence(clip)], maxFrames, height);

    /// <summary>Several clips (e.g. the RGB clip and its flow clip), one strip per row.</summary>
    public static PngPicture Strips(IEnumerable<Clip> rows, int maxFrames = 8, int height = 112) =>
        Strips([.. rows.Select(c => c.Sequence(0))], maxFrames, height);

    /// <summary>The video as a looping animated GIF at its frame rate (at most <paramref name="maxFrames"/> frames).</summary>
    public static GifPicture Animation(VideoFrames frames, int height = 112, int maxFrames = 64) =>
        Animation(FrameSequence.From(frames), height, maxFrames);

    /// <summary>Clip <paramref name="clip"/> of a SampleClips value as a looping animated GIF (at most <paramref name="maxFrames"/> frames).</summary>
    public static GifPicture Animation(Clip value, int clip = 0, int height = 112, int maxFrames = 64) =>
        Animation(value.Sequence(clip), height, maxFrames);

    private static GifPicture Animation(FrameSequence sequence, int height, int maxFrames)
    {
        var (w, h) = Scaled(sequence, height);
        int count = Math.Min(sequence.Count, Math.Max(1, maxFrames));
        var frames = Enumerable.Range(0, count).Select(t => Resize(sequence.Rgb(t), sequence.Width, sequence.Height, w, h)).ToList();
        int delay = (int)Math.Round(100 / sequence.FramesPerSecond);
        return new GifPicture(GifEncoder.Encode(frames, w, h, delay), w, h, $"{sequence.Description}, {count} frames animated");
    }

    private static PngPicture Strips(IReadOnlyList<FrameSequence> rows, int maxFrames, int height)
    {
        if (rows.Count == 0) throw new ArgumentException("nothing to show");
        if (maxFrames < 1) throw new ArgumentOutOfRangeException(nameof(maxFrames), maxFrames, "at least one frame");
        if (height < 1) throw new ArgumentOutOfRangeException(nameof(height), height, "at least one row of pixels");
        var sizes = rows.Select(r => Scaled(r, height)).ToArray();
        int columns = rows.Max(r => Math.Min(r.Count, maxFrames));
        int cellWidth = sizes.Max(s => s.Width);
        int width = columns * cellWidth + (columns - 1) * Gap, total = rows.Count * height + (rows.Count - 1) * Gap;
        var canvas = new byte[width * total * 3];
        Array.Fill(canvas, (byte)255);
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            var (w, h) = sizes[r];
            foreach (var (column, t) in Picks(row.Count, columns).Select((t, i) => (i, t)))
            {
                var frame = Resize(row.Rgb(t), row.Width, row.Height, w, h);
                int x0 = column * (cellWidth + Gap), y0 = r * (height + Gap);
                for (int y = 0; y < h; y++)
                    frame.AsSpan(y * w * 3, w * 3).CopyTo(canvas.AsSpan(((y0 + y) * width + x0) * 3));
            }
        }
        string caption = string.Join("; ", rows.Select(r => r.Description)) + $" ({columns} frames per row)";
        return new PngPicture(Png.Encode(canvas, width, total), width, total, caption);
    }

    /// <summary>Indices of <paramref name="columns"/> frames spread evenly over <paramref name="count"/> (first and last included).</summary>
    internal static int[] Picks(int count, int columns)
    {
        int n = Math.Min(count, columns);
        return n == 1 ? [0] : [.. Enumerable.Range(0, n).Select(i => (int)Math.Round(i * (count - 1) / (double)(n - 1)))];
    }

    private static (int Width, int Height) Scaled(FrameSequence s, int height) =>
        (Math.Max(1, (int)Math.Round(s.Width * (double)height / s.Height)), height);

    internal static byte[] Resize(byte[] rgb, int width, int height, int newWidth, int newHeight)
    {
        if (width == newWidth && height == newHeight) return rgb;
        var result = new byte[newWidth * newHeight * 3];
        for (int y = 0; y < newHeight; y++)
        {
            int sy = Math.Min(height - 1, (int)((y + 0.5) * height / newHeight));
            for (int x = 0; x < newWidth; x++)
            {
                int sx = Math.Min(width - 1, (int)((x + 0.5) * width / newWidth));
                rgb.AsSpan((sy * width + sx) * 3, 3).CopyTo(result.AsSpan((y * newWidth + x) * 3));
            }
        }
        return result;
    }
}

/// <summary>PNG encoding of RGB bytes through SkiaSharp.</summary>
internal static class Png
{
    public static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var rgba = new byte[width * height * 4];
        for (int p = 0; p < width * height; p++)
        {
            rgba[p * 4] = rgb[p * 3];
            rgba[p * 4 + 1] = rgb[p * 3 + 1];
            rgba[p * 4 + 2] = rgb[p * 3 + 2];
            rgba[p * 4 + 3] = 255;
        }
        using var image = SKImage.FromPixelCopy(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), rgba)
            ?? throw new InvalidOperationException($"SkiaSharp could not make a {width}x{height} image");
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
