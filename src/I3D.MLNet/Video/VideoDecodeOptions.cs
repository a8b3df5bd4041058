namespace I3D.MLNet.Video;

/// <summary>How a video is decoded into frames. The defaults are the paper's (section 3, Implementation details).</summary>
public sealed record VideoDecodeOptions
{
    /// <summary>
    /// Output frame rate. Frames are picked by timestamp as ffmpeg's <c>fps</c> filter does (each output slot shows the
    /// latest frame whose rounded timestamp is not after it: frames are dropped or repeated). <c>null</c> keeps every
    /// decoded frame at the native rate. Default 25, the rate I3D was trained at.
    /// </summary>
    public double? FrameRate { get; init; } = 25;

    /// <summary>Resize (bilinear) so that the shorter side has this many pixels, keeping the aspect ratio; <c>null</c> keeps the size. Default 256.</summary>
    public int? ShorterSide { get; init; } = 256;

    /// <summary>The shorter side that leaves a crop of <paramref name="cropSize"/> the paper's margin: section 3 resizes
    /// the shorter side to 256 and crops 224, so the shorter side is the crop x 256 / 224 (128 for 112).</summary>
    public static int ShorterSideForCrop(int cropSize) => (int)Math.Round(cropSize * 256.0 / 224.0);

    /// <summary>Start of the time window, in seconds of the output timeline. Default 0.</summary>
    public double StartSeconds { get; init; }

    /// <summary>Length of the time window in seconds; <c>null</c> for the rest of the video.</summary>
    public double? DurationSeconds { get; init; }

    /// <summary>Stop after this many output frames; <c>null</c> for no limit.</summary>
    public int? MaximumFrames { get; init; }

    internal void Validate()
    {
        if (FrameRate is { } fps && !(fps > 0 && fps <= 1000)) throw new ArgumentOutOfRangeException(nameof(FrameRate), fps, "the frame rate must be in (0, 1000] frames per second, or null for the native rate");
        if (ShorterSide is { } side && side is < 1 or > 8192) throw new ArgumentOutOfRangeException(nameof(ShorterSide), side, "the shorter side must be 1..8192 pixels, or null to keep the size");
        if (!(StartSeconds >= 0) || double.IsInfinity(StartSeconds)) throw new ArgumentOutOfRangeException(nameof(StartSeconds), StartSeconds, "the start must be a finite number of seconds >= 0");
        if (DurationSeconds is { } d && !(d > 0)) throw new ArgumentOutOfRangeException(nameof(DurationSeconds), d, "the duration must be > 0 seconds, or null");
        if (MaximumFrames is { } m && m < 1) throw new ArgumentOutOfRangeException(nameof(MaximumFrames), m, "the maximum number of frames must be >= 1, or null");
    }
}
