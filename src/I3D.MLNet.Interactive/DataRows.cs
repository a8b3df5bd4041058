using I3D.MLNet.Video;
using Microsoft.ML;

namespace I3D.MLNet.Interactive;

/// <summary>Copies single values out of a data view for looking at them (a cursor reuses its buffers).</summary>
public static class DataRows
{
    /// <summary>The video (frames or flow) in row <paramref name="row"/> of a <c>LoadVideo</c> / <c>ExtractOpticalFlow</c> column.</summary>
    public static VideoFrames Video(IDataView data, string column, int row = 0)
    {
        var col = Column(data, column);
        if (col.Type is not VideoDataViewType) throw new ArgumentException($"column '{column}' is {col.Type}, not a video column", nameof(column));
        var frames = new VideoFrames();
        return Read(data, col, row, ref frames, f => f.Clone());
    }

    /// <summary>The column named <paramref name="column"/>, or an error listing the columns there are.</summary>
    internal static DataViewSchema.Column Column(IDataView data, string column)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.Schema.GetColumnOrNull(column) is { } col ? col
            : throw new ArgumentException($"no column '{column}' (columns: {string.Join(", ", data.Schema.Select(c => c.Name))})", nameof(column));
    }

    /// <summary>Row <paramref name="row"/> of <paramref name="column"/>, read into <paramref name="buffer"/> and copied out.
    /// Earlier rows are passed over without calling their getter (nothing is decoded for them).</summary>
    internal static TResult Read<T, TResult>(IDataView data, DataViewSchema.Column column, int row, ref T buffer, Func<T, TResult> copy)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<T>(column);
        for (int i = 0; cursor.MoveNext(); i++)
        {
            if (i < row) continue;
            getter(ref buffer);
            return copy(buffer);
        }
        throw new ArgumentOutOfRangeException(nameof(row), row, $"column '{column.Name}' has fewer than {row + 1} rows");
    }
}
