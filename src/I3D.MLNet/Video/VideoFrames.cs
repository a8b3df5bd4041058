namespace I3D.MLNet.Video;

/// <summary>What the values of a <see cref="VideoFrames"/> buffer are.</summary>
public enum FrameElementKind
{
    /// <summary>8-bit RGB, channel order R, G, B, values 0..255 (what <c>LoadVideo</c> makes).</summary>
    Rgb24,

    /// <summary>Optical flow, float32, channels (x, y), already truncated and scaled to [-1, 1] (what <c>ExtractOpticalFlow</c> makes).</summary>
    Flow,

    /// <summary>RGB and optical flow of the same frames, float32, channels (R, G, B, flow x, flow y), all in [-1, 1] (what
    /// <c>JoinRgbAndFlow</c> makes for the 3D-Fused network, which sees both streams at once).</summary>
    RgbAndFlow,
}

/// <summary>
/// A decoded video: <see cref="FrameCount"/> frames of <see cref="Height"/> x <see cref="Width"/> x <see cref="Channels"/>,
/// stored frame-major, row-major, channels last (T, H, W, C).
/// </summary>
/// <remarks>
/// Why a custom column type rather than a <c>VBuffer&lt;byte&gt;</c>: videos differ in length and size, so a fixed-size
/// vector type cannot describe them, and a variable-length vector would drop the shape (T, H, W) that every
/// consumer needs. Like ML.NET's <c>MLImage</c> for images, one value carries its own shape, frame rate and source.
/// RGB frames are kept as bytes (4x smaller than float: a 10 s video at 25 fps and 256x340 is 65 MB, not 261 MB) and
/// converted to [-1, 1] floats only when a clip is sampled. The buffers are reused from row to row by the cursor.
/// </remarks>
public sealed class VideoFrames
{
    private byte[] _bytes = [];
    private float[] _floats = [];

    // True while the arrays are another VideoFrames' (a view, ShowView): any change of shape first takes own arrays.
    private bool _viewing;

    /// <summary>A buffer for a reader that only reads (our transforms' own getters): a cached column gives it a view of
    /// the cached frames instead of a copy. The view is valid until the cursor moves; writing through it is a bug.</summary>
    internal static VideoFrames ForReading() => new() { AcceptsView = true };

    internal bool AcceptsView { get; private init; }

    /// <summary>RGB bytes or flow floats.</summary>
    public FrameElementKind Kind { get; private set; }
    /// <summary>Number of frames.</summary>
    public int FrameCount { get; private set; }
    /// <summary>Frame height in pixels.</summary>
    public int Height { get; private set; }
    /// <summary>Frame width in pixels.</summary>
    public int Width { get; private set; }
    /// <summary>Values per pixel: 3 for RGB, 2 for flow.</summary>
    public int Channels => ChannelsOf(Kind);

    /// <summary>Values per pixel of <paramref name="kind"/>: 3 for RGB, 2 for flow, 5 for both.</summary>
    public static int ChannelsOf(FrameElementKind kind) => kind switch
    {
        FrameElementKind.Rgb24 => 3,
        FrameElementKind.Flow => 2,
        _ => 5,
    };

    /// <summary>The channel that holds the flow's x displacement (negated by a left-right flip); -1 for RGB.</summary>
    public static int FlowXChannel(FrameElementKind kind) => kind switch
    {
        FrameElementKind.Flow => 0,
        FrameElementKind.RgbAndFlow => 3,
        _ => -1,
    };

    /// <summary>Frames per second of these frames (after any resampling); <c>NaN</c> when unknown.</summary>
    public double FramesPerSecond { get; set; } = double.NaN;

    /// <summary>Where the frames came from (a path), for messages.</summary>
    public string? Source { get; set; }

    /// <summary>Values in one frame: Height x Width x Channels.</summary>
    public int FrameLength => Height * Width * Channels;

    /// <summary>The RGB bytes (T, H, W, 3); only for <see cref="FrameElementKind.Rgb24"/>.</summary>
    public Span<byte> Bytes => Kind == FrameElementKind.Rgb24
        ? _bytes.AsSpan(0, FrameCount * FrameLength)
        : throw new InvalidOperationException($"{Source}: these frames hold {Kind}, not bytes");

    /// <summary>The float values (T, H, W, C): flow (C = 2) or RGB and flow (C = 5); not for <see cref="FrameElementKind.Rgb24"/>.</summary>
    public Span<float> Floats => Kind != FrameElementKind.Rgb24
        ? _floats.AsSpan(0, FrameCount * FrameLength)
        : throw new InvalidOperationException($"{Source}: these frames hold {Kind}, not floats");

    /// <summary>The bytes of frame <paramref name="t"/> (H, W, 3).</summary>
    public Span<byte> FrameBytes(int t) => Bytes.Slice(t * FrameLength, FrameLength);

    /// <summary>The flow of frame <paramref name="t"/> (H, W, 2).</summary>
    public Span<float> FrameFloats(int t) => Floats.Slice(t * FrameLength, FrameLength);

    /// <summary>An empty value (ML.NET's cursors fill it with <see cref="Reset"/>).</summary>
    public VideoFrames()
    {
    }

    /// <summary>Frames of the given kind and shape (zeros).</summary>
    public VideoFrames(FrameElementKind kind, int frameCount, int height, int width) => Reset(kind, frameCount, height, width);

    /// <summary>Sets the shape, growing the buffer only when it is too small (buffers are reused across rows).</summary>
    public void Reset(FrameElementKind kind, int frameCount, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frameCount);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        if (_viewing) (_bytes, _floats, _viewing) = ([], [], false); // the viewed frames are someone else's
        Kind = kind;
        FrameCount = 0;
        Height = height;
        Width = width;
        EnsureCapacity(frameCount);
        FrameCount = frameCount;
    }

    /// <summary>Appends one frame (grows the buffer geometrically) and returns its bytes to fill.</summary>
    public Span<byte> AppendRgbFrame()
    {
        if (_viewing) TakeOwnCopy();
        EnsureCapacity(FrameCount + 1);
        FrameCount++;
        return FrameBytes(FrameCount - 1);
    }

    /// <summary>Makes room for <paramref name="frames"/> frames of the current shape without changing the count (a
    /// decoder that knows about how many frames are coming saves the buffer's geometric growth and its copies).</summary>
    internal void Reserve(int frames)
    {
        if (_viewing) TakeOwnCopy();
        EnsureCapacity(Math.Max(frames, FrameCount));
    }

    private void TakeOwnCopy()
    {
        _bytes = Kind == FrameElementKind.Rgb24 ? Bytes.ToArray() : [];
        _floats = Kind != FrameElementKind.Rgb24 ? Floats.ToArray() : [];
        _viewing = false;
    }

    /// <summary>Shows <paramref name="source"/>'s frames without copying them (see <see cref="ForReading"/>).</summary>
    private void ShowView(VideoFrames source)
    {
        (_bytes, _floats, _viewing) = (source._bytes, source._floats, true);
        (Kind, FrameCount, Height, Width) = (source.Kind, source.FrameCount, source.Height, source.Width);
        FramesPerSecond = source.FramesPerSecond;
        Source = source.Source;
    }

    /// <summary>Drops frames from the end.</summary>
    public void Truncate(int frameCount)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frameCount, FrameCount);
        FrameCount = frameCount;
    }

    private void EnsureCapacity(int frames)
    {
        long needed = (long)frames * Height * Width * Channels;
        if (needed > Array.MaxLength)
            throw new InvalidOperationException($"{Source}: {frames} frames of {Width}x{Height}x{Channels} do not fit in one buffer; limit the frames (MaximumFrames) or the size");
        if (Kind == FrameElementKind.Rgb24)
        {
            if (_bytes.Length < needed) Array.Resize(ref _bytes, (int)Math.Min(Array.MaxLength, Math.Max(needed, _bytes.Length * 3L / 2)));
        }
        else if (_floats.Length < needed)
        {
            Array.Resize(ref _floats, (int)Math.Min(Array.MaxLength, Math.Max(needed, _floats.Length * 3L / 2)));
        }
    }

    /// <summary>A deep copy (for callers that keep a row beyond the cursor's next move).</summary>
    public VideoFrames Clone()
    {
        var copy = new VideoFrames();
        CopyTo(copy);
        return copy;
    }

    /// <summary>Copies shape, metadata and values into <paramref name="target"/>, reusing its buffer.</summary>
    public void CopyTo(VideoFrames target)
    {
        if (ReferenceEquals(target, this)) return;
        target.Reset(Kind, FrameCount, Height, Width);
        target.FramesPerSecond = FramesPerSecond;
        target.Source = Source;
        if (Kind == FrameElementKind.Rgb24) Bytes.CopyTo(target.Bytes); else Floats.CopyTo(target.Floats);
    }

    /// <summary>
    /// A column getter that computes a row's video once per cursor row, however many consumers of the row ask (a clip
    /// sampler and an optical-flow step read the same frames), and gives each caller a copy in its own reused buffer, or
    /// a view of the row's frames to a buffer made by <see cref="ForReading"/> (a 10 s video is 65 MB not copied).
    /// </summary>
    internal static Microsoft.ML.ValueGetter<VideoFrames> CachedPerRow(Microsoft.ML.DataViewRow input, Action<VideoFrames> compute)
    {
        var cached = new VideoFrames();
        long position = -1;
        return (ref VideoFrames dst) =>
        {
            if (position != input.Position)
            {
                compute(cached);
                position = input.Position;
            }
            if (dst is { AcceptsView: true }) dst.ShowView(cached);
            else cached.CopyTo(dst ??= new VideoFrames());
        };
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} video {FrameCount}x{Height}x{Width}x{Channels} @ {FramesPerSecond:0.###} fps ({Source})";
}
