using I3D.MLNet.Video;

namespace I3D.MLNet.Flow;

/// <summary>
/// Optical flow of RGB videos, as the I3D paper's flow stream wants it: frames to grayscale, dense flow between
/// consecutive frames, displacements truncated to [-20, 20] pixels and scaled to [-1, 1], channels (x, y).
/// </summary>
public static class OpticalFlow
{
    /// <summary>Largest frame accepted (pixels, 2048 x 2048): a TV-L1 workspace takes about 190 bytes a pixel (all pyramid
    /// levels), 800 MB at this size; the paper computes flow on frames with a shorter side of 256.</summary>
    public const int MaximumPixels = 2048 * 2048;

    /// <summary>
    /// Flow video with as many frames as <paramref name="rgb"/>, same size: frame t is the flow from frame t to t+1; the
    /// last frame repeats the flow of the last pair (there is no frame after it), and a one-frame video gets zero flow.
    /// Encoded as <see cref="FlowOptions"/> says (truncated to [-Bound, Bound], scaled to [-1, 1], optionally 8-bit).
    /// With <paramref name="cache"/> (or <see cref="FlowOptions.CacheDirectory"/>), a video already computed is read back;
    /// unquantised values are then rounded to half precision (what the cache stores).
    /// </summary>
    public static VideoFrames Compute(VideoFrames rgb, FlowOptions? options = null, FlowCache? cache = null, CancellationToken cancellation = default)
    {
        var result = new VideoFrames();
        Compute(rgb, result, options, cache, cancellation);
        return result;
    }

    /// <summary>As <see cref="Compute(VideoFrames, FlowOptions?, FlowCache?, CancellationToken)"/>, into a reused buffer.</summary>
    public static void Compute(VideoFrames rgb, VideoFrames flow, FlowOptions? options = null, FlowCache? cache = null, CancellationToken cancellation = default)
    {
        options ??= new FlowOptions();
        options.Validate();
        CheckInput(rgb);
        if (cache is null && options.CacheDirectory is { } directory) cache = FlowCache.Open(directory);
        flow.Reset(FrameElementKind.Flow, rgb.FrameCount, rgb.Height, rgb.Width);
        flow.FramesPerSecond = rgb.FramesPerSecond;
        flow.Source = rgb.Source;

        string? key = cache?.Key(rgb, options);
        if (cache is not null && cache.TryLoad(key!, flow)) return;

        int pairs = rgb.FrameCount - 1;
        if (pairs == 0)
        {
            flow.Floats.Clear();
        }
        else
        {
            ComputePairs(rgb, options, (t, raw) => Encode(raw, flow.FrameFloats(t), options.Bound, options.Quantize), cancellation);
            flow.FrameFloats(pairs - 1).CopyTo(flow.FrameFloats(pairs));
        }
        if (cache is null) return;
        // The cache keeps unquantised flow as half floats: round the fresh result the same way, so that a run with a
        // cache returns the same values whether it computed the flow or read it (change below 5e-4 on [-1, 1]).
        if (!options.Quantize)
        {
            var values = flow.Floats;
            for (int i = 0; i < values.Length; i++) values[i] = (float)(Half)values[i];
        }
        cache.Store(key!, flow, options.Quantize);
    }

    /// <summary>
    /// The raw flow: (T-1, H, W, 2) float displacements in pixels (x then y) from frame t to t+1 of the grayscale frames,
    /// nothing truncated or scaled. Needs at least 2 frames.
    /// </summary>
    public static float[] ComputeRaw(VideoFrames rgb, FlowOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new FlowOptions();
        options.Validate();
        CheckInput(rgb);
        if (rgb.FrameCount < 2) throw new ArgumentException($"{rgb.Source}: the raw flow needs at least 2 frames, the video has {rgb.FrameCount}");
        int length = rgb.Height * rgb.Width * 2;
        long total = (long)(rgb.FrameCount - 1) * length;
        if (total > Array.MaxLength)
            throw new ArgumentException($"{rgb.Source}: {rgb.FrameCount - 1} flow frames of {rgb.Width}x{rgb.Height} do not fit in one array; use fewer frames");
        var result = new float[total];
        ComputePairs(rgb, options, (t, raw) => raw.CopyTo(result.AsSpan(t * length, length)), cancellation);
        return result;
    }

    /// <summary>Truncates to [-bound, bound] and scales to [-1, 1]; with <paramref name="quantize"/> rounds to the 8-bit
    /// code (value = (code - 128) / 127).</summary>
    public static void Encode(ReadOnlySpan<float> raw, Span<float> encoded, double bound, bool quantize)
    {
        float scale = (float)(1 / bound);
        for (int i = 0; i < raw.Length; i++)
        {
            float v = raw[i];
            v = float.IsNaN(v) ? 0 : Math.Clamp(v * scale, -1f, 1f);
            encoded[i] = quantize ? Decode(Code(v)) : v;
        }
    }

    /// <summary>The 8-bit code of an encoded value in [-1, 1]: 1..255, 128 for zero.</summary>
    internal static byte Code(float value) => (byte)(128 + (int)MathF.Round(Math.Clamp(value, -1f, 1f) * 127f));

    internal static float Decode(byte code) => (code - 128) / 127f;

    private static void CheckInput(VideoFrames rgb)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (rgb.Kind != FrameElementKind.Rgb24) throw new ArgumentException($"{rgb.Source}: optical flow needs RGB frames, got {rgb.Kind}");
        if (rgb.FrameCount < 1) throw new ArgumentException($"{rgb.Source}: the video has no frame");
        if ((long)rgb.Width * rgb.Height > MaximumPixels)
            throw new ArgumentException($"{rgb.Source}: frames of {rgb.Width}x{rgb.Height} are too large for optical flow (at most {MaximumPixels} pixels); resize them first (e.g. a shorter side of 256)");
        if (rgb.Width < 3 || rgb.Height < 3) throw new ArgumentException($"{rgb.Source}: frames of {rgb.Width}x{rgb.Height} are too small for optical flow (at least 3x3)");
    }

    /// <summary>Grayscale as OpenCV's <c>cvtColor(RGB2GRAY)</c> on 8 bits: (4899 R + 9617 G + 1868 B + 8192) >> 14.</summary>
    internal static void ToGray(ReadOnlySpan<byte> rgb, Span<byte> gray)
    {
        for (int i = 0; i < gray.Length; i++)
            gray[i] = (byte)((rgb[3 * i] * 4899 + rgb[3 * i + 1] * 9617 + rgb[3 * i + 2] * 1868 + 8192) >> 14);
    }

    /// <summary>Computes every consecutive pair (several at once) and hands each raw flow (H x W x 2) to <paramref name="consume"/>.</summary>
    internal static void ComputePairs(VideoFrames rgb, FlowOptions options, FlowConsumer consume, CancellationToken cancellation)
    {
        int w = rgb.Width, h = rgb.Height, n = w * h, pairs = rgb.FrameCount - 1;
        var gray = new byte[(long)rgb.FrameCount * n];
        Parallel.For(0, rgb.FrameCount, new ParallelOptions { MaxDegreeOfParallelism = options.Threads, CancellationToken = cancellation },
            t => ToGray(rgb.FrameBytes(t), gray.AsSpan(t * n, n)));
        var pairFlow = PairFlow.Create(options);
        // Big frames: fewer pairs at once, so that the TV-L1 workspaces (about 190 bytes a pixel each) stay near 1 GB.
        int memoryBound = (int)Math.Clamp(1_000_000_000L / ((long)n * 190), 1, int.MaxValue);
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = Math.Min(options.Threads, memoryBound),
            CancellationToken = cancellation,
        };
        try
        {
            Parallel.For(0, pairs, parallel,
                () => (Worker: pairFlow.CreateWorker(), Buffer: new float[n * 2]),
                (t, _, local) =>
                {
                    local.Worker.Compute(gray.AsSpan(t * n, n), gray.AsSpan((t + 1) * n, n), w, h, local.Buffer);
                    consume(t, local.Buffer);
                    return local;
                },
                local => (local.Worker as IDisposable)?.Dispose());
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
            throw;
        }
    }

    internal delegate void FlowConsumer(int pair, ReadOnlySpan<float> raw);
}

/// <summary>Computes the flow of one frame pair (8-bit gray in, h x w x 2 pixels out).</summary>
internal interface IPairWorker
{
    void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow);
}

/// <summary>One algorithm with its options; hands out a worker per thread.</summary>
internal sealed class PairFlow
{
    private readonly FlowOptions _options;
    private readonly TvL1Solver? _solver;

    private PairFlow(FlowOptions options)
    {
        _options = options;
        if (options.Algorithm == FlowAlgorithm.TvL1) _solver = new TvL1Solver(options.TvL1);
    }

    public static PairFlow Create(FlowOptions options) => new(options);

    public IPairWorker CreateWorker() => _options.Algorithm switch
    {
        FlowAlgorithm.TvL1 => new SolverWorker(_solver!),
        FlowAlgorithm.TvL1OpenCv => new OpenCvWorker(new OpenCvTvL1(_options.TvL1)),
        _ => new FarnebackWorker(),
    };

    private sealed class SolverWorker(TvL1Solver solver) : IPairWorker
    {
        public void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow) =>
            solver.Compute(gray0, gray1, width, height, flow);
    }

    private sealed class OpenCvWorker(OpenCvTvL1 tvl1) : IPairWorker, IDisposable
    {
        public void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow) =>
            tvl1.Compute(gray0, gray1, width, height, flow);

        public void Dispose() => tvl1.Dispose();
    }

    private sealed class FarnebackWorker : IPairWorker
    {
        public void Compute(ReadOnlySpan<byte> gray0, ReadOnlySpan<byte> gray1, int width, int height, Span<float> flow) =>
            OpenCvFarneback.Compute(gray0, gray1, width, height, flow);
    }
}
