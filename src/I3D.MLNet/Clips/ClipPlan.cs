using I3D.MLNet.Video;

namespace I3D.MLNet.Clips;

/// <summary>Where one row's clips come from: frame indices, crop corner and flip. Depends only on the options, the
/// video's shape and the row's random stream, so an RGB and a flow column with the same shape get the same plan.</summary>
internal sealed record ClipPlan(int[][] FrameIndices, int Top, int Left, bool Flip)
{
    public static ClipPlan Make(ClipSamplerOptions options, int frameCount, int height, int width, Random random, string? source, bool training)
    {
        if (frameCount == 0)
            throw new InvalidDataException($"{source}: the video has no frames (a row that LoadVideo skipped?); filter such rows with mlContext.Data.SkipEmptyVideos before sampling clips");
        int crop = options.CropSize;
        if (height < crop || width < crop)
            throw new InvalidDataException($"{source}: frames of {width}x{height} are smaller than the {crop}x{crop} crop; decode with a ShorterSide of at least {crop}");

        int stride = options.FrameStride;
        int length = options.WholeVideo && !training ? (frameCount + stride - 1) / stride : options.Frames;
        int span = (length - 1) * stride + 1; // video frames one clip covers
        int[][] clips = new int[options.ClipCount][];
        if (training)
        {
            // Section 3 (implementation details): a random start among the frames that leave enough for the clip
            // (shorter videos start at 0 and loop), a random crop, one left-right flip decision for the whole clip.
            int top = random.Next(height - crop + 1);
            int left = random.Next(width - crop + 1);
            bool flip = random.NextDouble() < options.FlipProbability;
            for (int c = 0; c < clips.Length; c++)
                clips[c] = Looped(frameCount > span ? random.Next(frameCount - span + 1) : 0, length, stride, frameCount);
            return new ClipPlan(clips, top, left, flip);
        }

        int k = clips.Length;
        for (int i = 0; i < k; i++)
        {
            // K evenly spaced starts from the first to the last possible one; one clip is centred.
            int room = Math.Max(0, frameCount - span);
            int start = k == 1 ? room / 2 : (int)Math.Round((double)i * room / (k - 1), MidpointRounding.AwayFromZero);
            clips[i] = Looped(start, length, stride, frameCount);
        }
        return new ClipPlan(clips, (height - crop) / 2, (width - crop) / 2, false);
    }

    /// <summary>Frames start, start + stride, ... (length of them), looped over a video shorter than that (section 3: short videos are looped).</summary>
    private static int[] Looped(int start, int length, int stride, int frameCount)
    {
        var indices = new int[length];
        for (int t = 0; t < length; t++) indices[t] = (start + t * stride) % frameCount;
        return indices;
    }

    /// <summary>
    /// Writes the clips as float32 in N C T H W order (N = clips): RGB bytes become x / 127.5 - 1 (the paper's [-1, 1]);
    /// float values (flow, or joined RGB and flow) are copied, with the flow's x negated when the clip is flipped left-right.
    /// </summary>
    public void Write(VideoFrames frames, int crop, Span<float> output)
    {
        int channels = frames.Channels, width = frames.Width, flowX = VideoFrames.FlowXChannel(frames.Kind);
        int length = FrameIndices[0].Length;
        int plane = crop * crop;
        int clipSize = channels * length * plane;
        for (int k = 0; k < FrameIndices.Length; k++)
        {
            var clip = output.Slice(k * clipSize, clipSize);
            for (int t = 0; t < length; t++)
            {
                int f = FrameIndices[k][t];
                for (int y = 0; y < crop; y++)
                {
                    int srcRow = ((Top + y) * width + Left) * channels;
                    if (frames.Kind == FrameElementKind.Rgb24)
                    {
                        // The three channels of a row in one pass over its bytes (one read of each pixel).
                        int at = t * plane + y * crop;
                        WriteRgbRow(frames.FrameBytes(f).Slice(srcRow, crop * 3), clip.Slice(at, crop), clip.Slice(length * plane + at, crop), clip.Slice(2 * length * plane + at, crop), Flip);
                        continue;
                    }
                    for (int c = 0; c < channels; c++)
                    {
                        var dst = clip.Slice((c * length + t) * plane + y * crop, crop);
                        var src = frames.FrameFloats(f).Slice(srcRow, crop * channels);
                        float sign = Flip && c == flowX ? -1f : 1f;
                        if (Flip) for (int x = 0; x < crop; x++) dst[crop - 1 - x] = sign * src[x * channels + c];
                        else for (int x = 0; x < crop; x++) dst[x] = src[x * channels + c];
                    }
                }
            }
        }
    }

    // x / 127.5 - 1 for every byte, computed as the per-pixel expression would be (the same float operations).
    private static readonly float[] Scaled = Enumerable.Range(0, 256).Select(v => v * (1f / 127.5f) - 1f).ToArray();

    private static unsafe void WriteRgbRow(ReadOnlySpan<byte> rgb, Span<float> r, Span<float> g, Span<float> b, bool flip)
    {
        int n = r.Length;
        fixed (byte* src = rgb)
        fixed (float* pr = r, pg = g, pb = b, lut = Scaled)
        {
            for (int x = 0; x < n; x++)
            {
                int to = flip ? n - 1 - x : x;
                byte* p = src + 3 * x;
                pr[to] = lut[p[0]];
                pg[to] = lut[p[1]];
                pb[to] = lut[p[2]];
            }
        }
    }
}
