using Microsoft.ML.Data;

namespace I3D.MLNet.Video;

/// <summary>
/// The column type of decoded videos (values: <see cref="VideoFrames"/>), the video counterpart of ML.NET's
/// <c>ImageDataViewType</c>. One instance per element kind; shape varies row by row and lives in each value.
/// </summary>
public sealed class VideoDataViewType : StructuredDataViewType
{
    /// <summary>The type of decoded RGB videos (bytes).</summary>
    public static VideoDataViewType Rgb { get; } = new(FrameElementKind.Rgb24);
    /// <summary>The type of optical flow videos (two floats per pixel).</summary>
    public static VideoDataViewType Flow { get; } = new(FrameElementKind.Flow);

    /// <summary>The type of joined RGB and flow videos (five floats per pixel).</summary>
    public static VideoDataViewType RgbAndFlow { get; } = new(FrameElementKind.RgbAndFlow);

    /// <summary>What each pixel holds.</summary>
    public FrameElementKind Kind { get; }

    private VideoDataViewType(FrameElementKind kind) : base(typeof(VideoFrames)) => Kind = kind;

    /// <summary>The instance for <paramref name="kind"/>.</summary>
    public static VideoDataViewType For(FrameElementKind kind) => kind switch
    {
        FrameElementKind.Rgb24 => Rgb,
        FrameElementKind.Flow => Flow,
        _ => RgbAndFlow,
    };

    /// <inheritdoc/>
    public override bool Equals(DataViewType? other) => other is VideoDataViewType v && v.Kind == Kind;

    /// <inheritdoc/>
    public override bool Equals(object? other) => other is DataViewType t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(typeof(VideoDataViewType), Kind);

    /// <inheritdoc/>
    public override string ToString() => $"Video<{Kind}>";
}
