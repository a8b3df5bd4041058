using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Interactive.Pictures;

/// <summary>
/// The clips of one row of a <c>SampleClips</c> column (K x C x T x H x W, values in [-1, 1]), copied out of the
/// data view so that a notebook can show them (as an image strip: see <see cref="ClipPicture"/>).
/// </summary>
public sealed record Clip(float[] Values, int Clips, int Channels, int Frames, int Height, int Width, string Description)
{
    /// <summary>Reads row <paramref name="row"/> of clip column <paramref name="column"/>.</summary>
    public static Clip Read(IDataView data, string column, int row = 0)
    {
        var col = DataRows.Column(data, column);
        if (col.Type is not VectorDataViewType { ItemType: NumberDataViewType } vector || vector.ItemType.RawType != typeof(float))
            throw new ArgumentException($"column '{column}' is {col.Type}, not a clip (a vector of float from SampleClips)", nameof(column));
        if (vector.Dimensions.Length != 5)
            throw new ArgumentException($"column '{column}' has no K x C x T x H x W shape (whole-video clips vary in length); use Clip.From with the shape", nameof(column));
        var d = vector.Dimensions;
        var buffer = default(VBuffer<float>);
        return DataRows.Read(data, col, row, ref buffer, b => From(b.DenseValues().ToArray(), [d[0], d[1], d[2], d[3], d[4]], $"{column}, row {row}"));
    }

    /// <summary>Wraps values of shape [K, C, T, H, W] or [C, T, H, W].</summary>
    public static Clip From(float[] values, IReadOnlyList<int> shape, string description = "clip")
    {
        ArgumentNullException.ThrowIfNull(values);
        int[] s = shape.Count switch
        {
            5 => [.. shape],
            4 => [1, .. shape],
            _ => throw new ArgumentException($"{description}: shape [{string.Join(", ", shape)}] is not [K, C, T, H, W] or [C, T, H, W]", nameof(shape)),
        };
        long expected = s.Aggregate(1L, (a, b) => a * b);
        if (expected != values.Length) throw new ArgumentException($"{description}: {values.Length} values do not fill [{string.Join(", ", s)}] ({expected})", nameof(values));
        return new Clip(values, s[0], s[1], s[2], s[3], s[4], description);
    }

    internal FrameSequence Sequence(int clip, double framesPerSecond = 25)
    {
        if (clip < 0 || clip >= Clips) throw new ArgumentOutOfRangeException(nameof(clip), clip, $"{Description} holds {Clips} clip(s)");
        int offset = clip * Channels * Frames * Height * Width;
        return FrameSequence.FromClip(Values, Channels, Frames, Height, Width, offset, framesPerSecond, $"{Description}, clip {clip}");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Description}: {Clips} clip(s) of {Channels}x{Frames}x{Height}x{Width}";
}
