using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Datasets;

/// <summary>
/// An in-memory table of text columns that can shuffle: a cursor asked for with a <see cref="Random"/> reads the rows
/// in a permutation drawn from it. ML.NET's <c>LoadFromEnumerable</c> cannot, and a trainer reading rows stored class by
/// class would see one class per batch. Row ids are the stored row indices, whatever the order.
/// </summary>
internal sealed class ShufflableTable : IDataView
{
    private readonly string[][] _columns;

    public ShufflableTable(IReadOnlyList<(string Name, string[] Values)> columns)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var (name, _) in columns) builder.AddColumn(name, TextDataViewType.Instance);
        Schema = builder.ToSchema();
        _columns = [.. columns.Select(c => c.Values)];
        if (_columns.Select(c => c.Length).Distinct().Count() > 1) throw new ArgumentException("columns of different lengths");
    }

    public bool CanShuffle => true;

    public DataViewSchema Schema { get; }

    private int Rows => _columns.Length == 0 ? 0 : _columns[0].Length;

    public long? GetRowCount() => Rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int[] order = [.. Enumerable.Range(0, Rows)];
        if (rand != null)
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = rand.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        return new Cursor(this, order);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(ShufflableTable table, int[] order) : DataViewRowCursor
    {
        private long _position = -1;

        public override DataViewSchema Schema => table.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext() => ++_position < order.Length;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var values = table._columns[column.Index];
            ValueGetter<ReadOnlyMemory<char>> getter = (ref ReadOnlyMemory<char> value) => value = values[order[_position]].AsMemory();
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"column '{column.Name}' is text, not {typeof(TValue).Name}");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)order[_position], 0);
    }
}
