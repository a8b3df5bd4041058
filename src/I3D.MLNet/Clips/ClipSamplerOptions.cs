namespace I3D.MLNet.Clips;

/// <summary>Training or test protocol of the paper (section 3, "Implementation details").</summary>
public enum ClipSamplingMode
{
    /// <summary>Random start among the frames that leave room for the clip, short videos looped, random crop,
    /// one left-right flip decision per clip.</summary>
    Train,

    /// <summary>Centre crop; the whole video or <see cref="ClipSamplerOptions.ClipsPerVideo"/> evenly spaced clips.</summary>
    Test,

    /// <summary>The test protocol, except for the I3D trainer, which draws each epoch's clips by the training protocol
    /// (seeded by its epoch) from the frames: the mode for pipelines that end in the trainer and then score.</summary>
    Auto,
}

/// <summary>Options of <c>mlContext.Transforms.SampleClips</c>.</summary>
public sealed record ClipSamplerOptions
{
    /// <summary>Test: fixed, centred clips over the whole video (section 2.5); Train: a random start, crop and flip per (seed, row, epoch); Auto: the trainer picks per phase.</summary>
    public ClipSamplingMode Mode { get; init; } = ClipSamplingMode.Test;

    /// <summary>Frames per clip (T). Default 64, the paper's. Ignored when <see cref="WholeVideo"/>.</summary>
    public int Frames { get; init; } = 64;

    /// <summary>One frame of every <c>FrameStride</c> (Table 1: the ConvNet+LSTM takes 1 of every 5 frames at 25 fps): a
    /// clip of T frames covers (T - 1) x stride + 1 frames of the video. Default 1 (consecutive frames).</summary>
    public int FrameStride { get; init; } = 1;

    /// <summary>Side of the square crop (H = W). Default 224, the paper's.</summary>
    public int CropSize { get; init; } = 224;

    /// <summary>Test mode: K evenly spaced clips per video (first at the start, last at the end). Default 1 (centred).</summary>
    public int ClipsPerVideo { get; init; } = 1;

    /// <summary>Test mode: one clip with all the frames of the video (the official evaluation); the output vector is
    /// then of variable length (1 x C x T x H x W with T the video's frame count).</summary>
    public bool WholeVideo { get; init; }

    /// <summary>Seed of the training-mode choices. The same seed gives the same clips; an RGB and a flow column sampled
    /// with the same options make the same choices row by row (their clips line up).</summary>
    public int Seed { get; init; }

    /// <summary>Train mode: probability of the left-right flip. Default 0.5.</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>Train mode: which pass over the data the random choices are for (0, 1, ...); each epoch draws anew, the
    /// same epoch the same clips. The I3D trainer passes its own epoch to Train and Auto columns.</summary>
    public int Epoch { get; init; }

    /// <summary>Clips per row: K in test mode and Auto (whose training clips the I3D trainer draws itself, one per video per epoch), 1 in train mode or for the whole video.</summary>
    internal int ClipCount => Mode == ClipSamplingMode.Train || WholeVideo ? 1 : ClipsPerVideo;

    internal void Validate()
    {
        if (Frames < 1) throw new ArgumentOutOfRangeException(nameof(Frames), Frames, "a clip needs at least one frame");
        if (FrameStride < 1) throw new ArgumentOutOfRangeException(nameof(FrameStride), FrameStride, "the frame stride is >= 1 (1: consecutive frames)");
        if (CropSize < 1) throw new ArgumentOutOfRangeException(nameof(CropSize), CropSize, "the crop size must be >= 1 pixel");
        if (ClipsPerVideo < 1) throw new ArgumentOutOfRangeException(nameof(ClipsPerVideo), ClipsPerVideo, "at least one clip per video");
        if (WholeVideo && Mode == ClipSamplingMode.Train) throw new ArgumentException("WholeVideo is a test-mode option (training samples clips of Frames frames)", nameof(WholeVideo));
        if (!(FlipProbability is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(FlipProbability), FlipProbability, "a probability is in [0, 1]");
        if (Epoch < 0) throw new ArgumentOutOfRangeException(nameof(Epoch), Epoch, "an epoch is >= 0");
    }
}
