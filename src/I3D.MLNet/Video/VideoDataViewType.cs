using Microsoft.ML.Data;

namespace I3D.MLNet.Video;

/// <summary>
/// The column type of decoded videos (values: <see cref="VideoFrames"/>), the video counterpart of ML.NET's
/// <c>ImageDataViewType</c>. One instance per element kind; shape varies row by row and lives in each value.
/// </summary>
public sealed class VideoDataViewType : StructuredDataViewType
{
    public static VideoDataViewType Rgb { get; } = new(FrameElementKind.Rgb24);
    public static VideoDataViewType Flow { get; } = new(FrameElementKind.Flow);

    public FrameElementKind Kind { get; }

    private VideoDataViewType(FrameElementKind kind) : base(typeof(VideoFrames)) => Kind = kind;

    public static VideoDataViewType For(FrameElementKind kind) => kind == FrameElementKind.Rgb24 ? Rgb : Flow;

    public override bool Equals(DataViewType? other) => other is VideoDataViewType v && v.Kind == Kind;

    public override bool Equals(object? other) => other is DataViewType t && Equals(t);

    public override int GetHashCode() => HashCode.Combine(typeof(VideoDataViewType), Kind);

    public override string ToString() => Kind == FrameElementKind.Rgb24 ? "Video<Rgb24>" : "Video<Flow>";
}
