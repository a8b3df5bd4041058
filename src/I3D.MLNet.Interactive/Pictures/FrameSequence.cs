using I3D.MLNet.Flow;
using I3D.MLNet.Video;

namespace I3D.MLNet.Interactive.Pictures;

/// <summary>
/// Frames to look at, as 8-bit RGB (H x W x 3 each): decoded video frames as they are, RGB clips mapped back from
/// [-1, 1], optical flow colour-coded (Middlebury wheel, one scale for the whole sequence so colours compare between
/// frames). What <see cref="ClipPicture"/> draws as strips and animations.
/// </summary>
internal sealed class FrameSequence
{
    private readonly Func<int, byte[]> _frame;

    private FrameSequence(int count, int height, int width, double framesPerSecond, string description, Func<int, byte[]> frame)
    {
        if (count <= 0) throw new ArgumentException($"{description}: no frames to show");
        if (height <= 0 || width <= 0) throw new ArgumentException($"{description}: frames of {height}x{width} cannot be shown");
        Count = count;
        Height = height;
        Width = width;
        FramesPerSecond = double.IsFinite(framesPerSecond) && framesPerSecond > 0 ? framesPerSecond : 25;
        Description = description;
        _frame = frame;
    }

    public int Count { get; }
    public int Height { get; }
    public int Width { get; }
    public double FramesPerSecond { get; }
    public string Description { get; }

    /// <summary>Frame <paramref name="t"/> as RGB bytes (H x W x 3).</summary>
    public byte[] Rgb(int t) => _frame(t);

    public static FrameSequence From(VideoFrames frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        string what = $"{frames.Kind} video {frames.FrameCount}x{frames.Height}x{frames.Width} ({frames.Source})";
        if (frames.Kind == FrameElementKind.Rgb24)
            return new(frames.FrameCount, frames.Height, frames.Width, frames.FramesPerSecond, what, t => frames.FrameBytes(t).ToArray());
        float max = FlowScale(frames.Floats);
        return new(frames.FrameCount, frames.Height, frames.Width, frames.FramesPerSecond, what, t => ColourFlow(frames.FrameFloats(t), max));
    }

    /// <summary>One clip of a C x T x H x W tensor in [-1, 1] (C = 3: RGB, C = 2: flow x, y), channels first.</summary>
    public static FrameSequence FromClip(float[] values, int channels, int frames, int height, int width, int offset, double framesPerSecond, string description)
    {
        if (channels is not (2 or 3)) throw new ArgumentException($"{description}: {channels} channels; a clip shows as RGB (3) or flow (2)");
        int plane = height * width;
        long needed = (long)offset + (long)channels * frames * plane;
        if (needed > values.Length) throw new ArgumentException($"{description}: {values.Length} values, a {channels}x{frames}x{height}x{width} clip needs {needed}");
        float Value(int c, int t, int p) => values[offset + (c * frames + t) * plane + p];
        if (channels == 3)
            return new(frames, height, width, framesPerSecond, description, t =>
            {
                var rgb = new byte[plane * 3];
                for (int p = 0; p < plane; p++)
                    for (int c = 0; c < 3; c++)
                        rgb[p * 3 + c] = ToByte((Value(c, t, p) + 1) * 127.5f);
                return rgb;
            });
        var interleaved = new float[frames * plane * 2];
        for (int t = 0; t < frames; t++)
            for (int p = 0; p < plane; p++)
            {
                interleaved[(t * plane + p) * 2] = Value(0, t, p);
                interleaved[(t * plane + p) * 2 + 1] = Value(1, t, p);
            }
        float max = FlowScale(interleaved);
        return new(frames, height, width, framesPerSecond, description, t => ColourFlow(interleaved.AsSpan(t * plane * 2, plane * 2), max));
    }

    // Colours saturate at the 99th percentile of the speeds (a few fast pixels would otherwise wash out everything
    // else), but motion below half a pixel is never amplified into full colours (flow here is in [-1, 1], 20 px = 1).
    private static float FlowScale(ReadOnlySpan<float> flow)
    {
        int pixels = flow.Length / 2, step = Math.Max(1, pixels / 100_000);
        var speeds = new List<float>(pixels / step + 1);
        for (int p = 0; p < pixels; p += step)
        {
            float x = flow[2 * p], y = flow[2 * p + 1], r = MathF.Sqrt(x * x + y * y);
            if (float.IsFinite(r)) speeds.Add(r);
        }
        if (speeds.Count == 0) return 1;
        speeds.Sort();
        return MathF.Max(speeds[(int)(0.99 * (speeds.Count - 1))], 0.025f);
    }

    private static byte[] ColourFlow(ReadOnlySpan<float> flow, float maxRadius)
    {
        var rgb = new byte[flow.Length / 2 * 3];
        FlowColor.ToRgb(flow, maxRadius, rgb);
        return rgb;
    }

    private static byte ToByte(float v) => float.IsNaN(v) ? (byte)0 : (byte)Math.Clamp(MathF.Round(v), 0, 255);
}
