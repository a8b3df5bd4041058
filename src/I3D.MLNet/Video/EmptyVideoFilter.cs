using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Video;

/// <summary>
/// A view of the rows whose video has at least one frame: with <see cref="InvalidVideoHandling.Skip"/>, LoadVideo gives
/// undecodable files an empty video; this drops those rows before clips are sampled. Streams: nothing is buffered.
/// </summary>
internal sealed class EmptyVideoFilter(IDataView source, string videoColumn) : IDataView
{
    private readonly DataViewSchema.Column _video = source.Schema.GetColumnOrNull(videoColumn) is { } c && c.Type is VideoDataViewType
        ? c
        : throw new ArgumentException($"column '{videoColumn}' is missing or is not a video column (from LoadVideo)", nameof(videoColumn));

    public bool CanShuffle => source.CanShuffle; // the source's cursor draws the order; the filter only drops rows

    public DataViewSchema Schema => source.Schema;

    public long? GetRowCount() => null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(source.GetRowCursor(columnsNeeded.Append(_video).Distinct(), rand), _video);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(DataViewRowCursor input, DataViewSchema.Column video) : DataViewRowCursor
    {
        private readonly ValueGetter<VideoFrames> _getVideo = input.GetGetter<VideoFrames>(video);
        private VideoFrames _frames = VideoFrames.ForReading();
        private long _position = -1;

        public override DataViewSchema Schema => input.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            while (input.MoveNext())
            {
                _getVideo(ref _frames);
                if (_frames.FrameCount > 0)
                {
                    _position++;
                    return true;
                }
            }
            return false;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => input.GetGetter<TValue>(column);

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => input.IsColumnActive(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }
}
