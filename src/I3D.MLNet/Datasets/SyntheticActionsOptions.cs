namespace I3D.MLNet.Datasets;

/// <summary>The class families of <see cref="SyntheticActions"/>: which kind of evidence decides the class.</summary>
[Flags]
public enum SyntheticActionFamilies
{
    /// <summary>No family.</summary>
    None = 0,

    /// <summary>Nothing about the object moves; its shape decides (<c>still_disc</c>, <c>still_square</c>, <c>still_cross</c>).</summary>
    Appearance = 1,

    /// <summary>The direction of the object's motion decides (<c>move_left</c>, <c>move_right</c>, <c>move_up</c>, <c>move_down</c>).</summary>
    Direction = 2,

    /// <summary>Only the order of the frames decides (<c>grow</c>, <c>shrink</c>, <c>appear</c>, <c>vanish</c>).</summary>
    Order = 4,

    /// <summary>The three families.</summary>
    All = Appearance | Direction | Order,
}

/// <summary>Options of <see cref="SyntheticActions.Write"/>.</summary>
public sealed record SyntheticActionsOptions
{
    /// <summary>Training videos per class.</summary>
    public int PerClass { get; init; } = 16;

    /// <summary>Test videos per class; <c>null</c> for max(1, PerClass / 2).</summary>
    public int? TestPerClass { get; init; }

    /// <summary>Frames per video.</summary>
    public int Frames { get; init; } = 32;

    /// <summary>Frame height and width in pixels (square frames), 32..1024. The default is the size the experiments'
    /// default 56-pixel crops are measured at (<c>docs/experiments.md</c>).</summary>
    public int Size { get; init; } = 64;

    /// <summary>Frame rate written into the files.</summary>
    public double FramesPerSecond { get; init; } = 25;

    /// <summary>Seed of every random choice: the same options write byte-identical files.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The families whose classes are written (default all three); ignored when <see cref="Transfer"/> is set.</summary>
    public SyntheticActionFamilies Families { get; init; } = SyntheticActionFamilies.All;

    /// <summary>Write the transfer-target classes (<see cref="SyntheticActions.TransferFamily"/>: diagonal moves and
    /// turns) instead of <see cref="Families"/>.</summary>
    public bool Transfer { get; init; }

    /// <summary>Test videos per class after the default is applied.</summary>
    internal int TestCount => TestPerClass ?? Math.Max(1, PerClass / 2);

    internal void Validate()
    {
        if (PerClass < 1) throw new ArgumentOutOfRangeException(nameof(PerClass), PerClass, "at least one video per class");
        if (TestPerClass is < 0) throw new ArgumentOutOfRangeException(nameof(TestPerClass), TestPerClass, "cannot be negative");
        if (Frames < 2) throw new ArgumentOutOfRangeException(nameof(Frames), Frames, "motion and order need at least 2 frames");
        if (Size is < 32 or > 1024) throw new ArgumentOutOfRangeException(nameof(Size), Size, "the frame size must be 32..1024");
        if (FramesPerSecond is not (> 0 and < 1000)) throw new ArgumentOutOfRangeException(nameof(FramesPerSecond), FramesPerSecond, "the frame rate must be in (0, 1000)");
        if (!Transfer && (Families & SyntheticActionFamilies.All) == SyntheticActionFamilies.None)
            throw new ArgumentException("choose at least one family (appearance, direction, order) or the transfer classes", nameof(Families));
        if ((Families & ~SyntheticActionFamilies.All) != 0) throw new ArgumentOutOfRangeException(nameof(Families), Families, "unknown family flag");
    }
}
