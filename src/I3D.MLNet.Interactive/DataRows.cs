using I3D.MLNet.Video;
using Microsoft.ML;

namespace I3D.MLNet.Interactive;

/// <summary>Copies single values out of a data view for looking at them (a cursor reuses its buffers).</summary>
public static class DataRows
{
    /// <summary>The video (frames or flow) in row <paramref name="row"/> of a <c>LoadVideo</c> / <c>ExtractOpticalFlow</c> column.</summary>
    public static VideoFrames Video(IDataView data, string column, int row = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        var col = data.Schema.GetColumnOrNull(column)
            ?? throw new ArgumentException($"no column '{column}' (columns: {string.Join(", ", data.Schema.Select(c => c.Name))})", nameof(column));
        if (col.Type is not VideoDataViewType) throw new ArgumentException($"column '{column}' is {col.Type}, not a video column", nameof(column));
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VideoFrames>(col);
        var frames = new VideoFrames();
        for (int i = 0; cursor.MoveNext(); i++)
        {
            if (i < row) continue;
            getter(ref frames);
            return frames.Clone();
        }
        throw new ArgumentOutOfRangeException(nameof(row), row, $"column '{column}' has fewer than {row + 1} rows");
    }
}
