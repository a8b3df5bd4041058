using System.Buffers.Binary;

namespace I3D.MLNet.Torch.Weights.TensorFlow;

/// <summary>
/// Reads every key and value of a LevelDB-format table ("SSTable"; TensorFlow's <c>tensorflow/core/lib/io/table</c>,
/// the container of a checkpoint's <c>.index</c> file) held in memory. Read-only; every length is checked against the
/// bytes actually there before it is used.
/// </summary>
/// <remarks>
/// Layout (all integers little-endian; varints are LEB128, at most 5 bytes for 32 bits and 10 for 64):
/// <code>
/// file    = data block* , metaindex block , index block , footer
/// footer  = last 48 bytes: metaindex handle , index handle (each: varint64 offset , varint64 size),
///           zero padding to byte 40 , magic fixed64 0xdb4775248b80fb57
/// block   = entry* , restart fixed32 * n , n fixed32      (the "size" of a handle covers exactly this)
///           followed by a 5-byte trailer: type byte (0 = no compression, 1 = Snappy) , masked CRC-32C of
///           (block bytes + type byte), see <see cref="Crc32C.Mask"/>
/// entry   = shared varint32 , non_shared varint32 , value_length varint32 , key suffix[non_shared] , value[value_length]
///           key = the first 'shared' bytes of the previous key + the suffix (prefix compression); at each restart
///           offset a key is stored whole (shared = 0)
/// index block: one entry per data block, value = that block's handle (key >= every key of the block)
/// </code>
/// Keys are in strictly increasing bytewise order. The metaindex block (empty in TensorFlow's tables) is checked, not used.
/// </remarks>
internal static class SSTable
{
    private const ulong Magic = 0xdb4775248b80fb57UL;
    private const int FooterLength = 48;
    private const int TrailerLength = 5;

    /// <summary>All entries of the table, in key order. <paramref name="path"/> names the file in errors.</summary>
    public static List<KeyValuePair<byte[], byte[]>> ReadAll(byte[] file, string path)
    {
        if (file.Length < FooterLength) throw Damaged(path, $"{file.Length} bytes, shorter than a table footer ({FooterLength})");
        var footer = file.AsSpan(file.Length - FooterLength);
        if (BinaryPrimitives.ReadUInt64LittleEndian(footer[40..]) != Magic)
            throw Damaged(path, "no table magic number at its end (not a TensorFlow checkpoint index, or truncated)");
        int at = 0;
        var (metaOffset, metaSize) = ReadHandle(footer, ref at, path, "metaindex");
        var (indexOffset, indexSize) = ReadHandle(footer, ref at, path, "index");
        long limit = file.Length - FooterLength;
        Block(file, metaOffset, metaSize, limit, path, "metaindex block"); // checked, its entries unused

        var result = new List<KeyValuePair<byte[], byte[]>>();
        var index = Block(file, indexOffset, indexSize, limit, path, "index block");
        foreach (var (_, handle) in index)
        {
            int h = 0;
            var (offset, size) = ReadHandle(handle, ref h, path, "data block");
            if (h != handle.Length) throw Damaged(path, "an index entry holds more than a block handle");
            if (offset + size + TrailerLength > indexOffset) throw Damaged(path, $"a data block at {offset} (+{size}) overlaps the index block");
            result.AddRange(Block(file, offset, size, limit, path, $"data block at byte {offset}"));
        }
        for (int i = 1; i < result.Count; i++)
            if (result[i - 1].Key.AsSpan().SequenceCompareTo(result[i].Key) >= 0)
                throw Damaged(path, $"keys out of order at entry {i} ('{Printable(result[i].Key)}')");
        return result;
    }

    private static (long Offset, long Size) ReadHandle(ReadOnlySpan<byte> bytes, ref int at, string path, string what)
    {
        ulong offset = Varint(bytes, ref at, 10, path, what + " handle");
        ulong size = Varint(bytes, ref at, 10, path, what + " handle");
        if (offset > int.MaxValue || size > int.MaxValue) throw Damaged(path, $"the {what} handle points past any index file ({offset} + {size})");
        return ((long)offset, (long)size);
    }

    private static List<KeyValuePair<byte[], byte[]>> Block(byte[] file, long offset, long size, long limit, string path, string what)
    {
        if (offset + size + TrailerLength > limit) throw Damaged(path, $"the {what} ({size} bytes at {offset}) reaches past the end of the file");
        var block = file.AsSpan((int)offset, (int)size);
        byte type = file[offset + size];
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)(offset + size + 1), 4));
        if (Crc32C.Unmask(stored) != Crc32C.Compute(file.AsSpan((int)offset, (int)size + 1)))
            throw Damaged(path, $"the {what} fails its CRC-32C check");
        if (type != 0)
            throw new WeightFileException($"{path}: the {what} is {(type == 1 ? "Snappy-compressed" : $"compressed (type {type})")}; only uncompressed tables are read (TensorFlow writes checkpoint indexes uncompressed)");
        if (size < 4) throw Damaged(path, $"the {what} is {size} bytes, too short for its restart count");
        long restarts = BinaryPrimitives.ReadUInt32LittleEndian(block[^4..]);
        long entriesEnd = size - 4 - 4 * restarts;
        if (restarts < 1 || entriesEnd < 0) throw Damaged(path, $"the {what} claims {restarts} restart points in {size} bytes");
        var restartAt = new HashSet<long>();
        for (long r = 0; r < restarts; r++)
        {
            long point = BinaryPrimitives.ReadUInt32LittleEndian(block[(int)(entriesEnd + 4 * r)..]);
            if (point > entriesEnd || (r == 0 && point != 0)) throw Damaged(path, $"the {what} has a restart point at {point}, outside its {entriesEnd} bytes of entries");
            restartAt.Add(point);
        }

        var entries = new List<KeyValuePair<byte[], byte[]>>();
        byte[] key = [];
        int at = 0;
        while (at < entriesEnd)
        {
            bool restart = restartAt.Contains(at);
            var entryBytes = block[..(int)entriesEnd];
            ulong shared = Varint(entryBytes, ref at, 5, path, what);
            ulong nonShared = Varint(entryBytes, ref at, 5, path, what);
            ulong valueLength = Varint(entryBytes, ref at, 5, path, what);
            if (shared > (ulong)key.Length || (restart && shared != 0))
                throw Damaged(path, $"an entry of the {what} shares {shared} key bytes with a {key.Length}-byte key{(restart ? " at a restart point" : "")}");
            if (nonShared + valueLength > (ulong)(entriesEnd - at))
                throw Damaged(path, $"an entry of the {what} claims {nonShared} key and {valueLength} value bytes, past the block's end");
            var next = new byte[(int)shared + (int)nonShared];
            key.AsSpan(0, (int)shared).CopyTo(next);
            block.Slice(at, (int)nonShared).CopyTo(next.AsSpan((int)shared));
            at += (int)nonShared;
            entries.Add(new(next, block.Slice(at, (int)valueLength).ToArray()));
            at += (int)valueLength;
            key = next;
        }
        return entries;
    }

    /// <summary>A LEB128 varint of at most <paramref name="maxBytes"/> bytes.</summary>
    private static ulong Varint(ReadOnlySpan<byte> bytes, ref int at, int maxBytes, string path, string what)
    {
        ulong value = 0;
        for (int i = 0; i < maxBytes; i++)
        {
            if (at >= bytes.Length) throw Damaged(path, $"a length in the {what} is cut short");
            byte b = bytes[at++];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if (b < 0x80) return value;
        }
        throw Damaged(path, $"a length in the {what} is longer than {maxBytes} bytes");
    }

    internal static string Printable(byte[] key) =>
        new(System.Text.Encoding.UTF8.GetString(key).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private static WeightFileException Damaged(string path, string why) => new($"{path}: a damaged checkpoint index: {why}");
}
