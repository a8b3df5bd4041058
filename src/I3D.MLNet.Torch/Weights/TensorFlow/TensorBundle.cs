using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Google.Protobuf;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Weights.TensorFlow;

/// <summary>One variable of a tensor bundle: a <c>BundleEntryProto</c> (<c>tensorflow/core/protobuf/tensor_bundle.proto</c>).</summary>
internal sealed record BundleEntry(string Name, int DType, long[] Shape, int ShardId, long Offset, long Size, uint MaskedCrc32C);

/// <summary>
/// A TensorFlow checkpoint ("tensor bundle", what <c>tf.train.Saver</c> writes as <c>PREFIX.index</c> +
/// <c>PREFIX.data-00000-of-0000N</c>), read without TensorFlow and without running anything from the files.
/// </summary>
/// <remarks>
/// <code>
/// PREFIX.index = an <see cref="SSTable"/>: key "" -> BundleHeaderProto, key = variable name -> BundleEntryProto
///   BundleHeaderProto: 1 num_shards int32 , 2 endianness enum (0 little, 1 big) , 3 version VersionDef
///   BundleEntryProto:  1 dtype enum (DataType: 1 float ...) , 2 shape TensorShapeProto (2 dim* {1 size int64}),
///                      3 shard_id int32 , 4 offset int64 , 5 size int64 , 6 crc32c fixed32 , 7 slices (partitioned
///                      variables, not read)
/// PREFIX.data-%05d-of-%05d (shard_id of num_shards): the raw tensors, C order (row-major), in the header's
///   endianness; entry.size bytes at entry.offset. entry.crc32c = <see cref="Crc32C.Mask"/>(CRC-32C of those bytes)
///   (TensorFlow's BundleReader compares Unmask(entry.crc32c) with the CRC of the bytes it read).
/// </code>
/// A missing field is 0 (proto3). Sizes from the files are checked against the files before anything is allocated.
/// </remarks>
internal sealed partial class TensorBundle
{
    /// <summary>Real indexes are 11-20 KB (a few hundred variables); anything beyond this is refused unread.</summary>
    private const long MaxIndexBytes = 64L << 20;
    private const int MaxShards = 10_000, MaxRank = 8;
    internal const int DTypeFloat = 1;

    private TensorBundle(string indexPath, int shards, IReadOnlyList<BundleEntry> entries)
    {
        IndexPath = indexPath;
        Prefix = indexPath[..^".index".Length];
        Shards = shards;
        Entries = entries;
    }

    public string IndexPath { get; }
    public string Prefix { get; }
    public int Shards { get; }

    /// <summary>The variables, in the index's (sorted) order; the header is not among them.</summary>
    public IReadOnlyList<BundleEntry> Entries { get; }

    public string DataPath(int shard) => $"{Prefix}.data-{shard:D5}-of-{Shards:D5}";

    [GeneratedRegex(@"\.data-\d{5}-of-\d{5}$")]
    private static partial Regex DataSuffix();

    /// <summary>
    /// The index file a weight path names when it is a TensorFlow checkpoint: the prefix (<c>.../model.ckpt</c>), the
    /// <c>.index</c> file itself, a data shard, or a folder holding one checkpoint; null when it is none of these.
    /// </summary>
    public static string? Locate(string path)
    {
        if (Directory.Exists(path))
        {
            var indexes = Directory.GetFiles(path, "*.index");
            return indexes.Length switch
            {
                1 => indexes[0],
                0 => throw new FileNotFoundException($"{path}: a folder without a TensorFlow checkpoint (no *.index file in it)", path),
                _ => throw new WeightFileException($"{path}: a folder with {indexes.Length} checkpoints ({string.Join(", ", indexes.Select(Path.GetFileName).Order())}): name one by its prefix"),
            };
        }
        if (path.EndsWith(".index", StringComparison.Ordinal) && File.Exists(path)) return path;
        if (File.Exists(path + ".index")) return path + ".index";
        var data = DataSuffix().Match(path);
        if (data.Success && File.Exists(path[..data.Index] + ".index")) return path[..data.Index] + ".index";
        return null;
    }

    /// <summary>Reads and checks the index (not the data).</summary>
    public static TensorBundle Open(string indexPath)
    {
        long length = new FileInfo(indexPath).Length;
        if (length > MaxIndexBytes) throw new WeightFileException($"{indexPath}: {length} bytes, more than any checkpoint index ({MaxIndexBytes}): refused");
        var table = SSTable.ReadAll(File.ReadAllBytes(indexPath), indexPath);
        if (table.Count == 0 || table[0].Key.Length != 0) throw new WeightFileException($"{indexPath}: a table without a tensor bundle header (not a TensorFlow checkpoint index)");
        int shards = 0;
        try
        {
            shards = Header(table[0].Value, indexPath);
            var entries = new List<BundleEntry>(table.Count - 1);
            foreach (var (key, value) in table.Skip(1))
            {
                string name = SSTable.Printable(key);
                entries.Add(Entry(name, value, shards, indexPath));
            }
            return new TensorBundle(indexPath, shards, entries);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new WeightFileException($"{indexPath}: a damaged checkpoint index: an unreadable record ({e.Message.Split('\n')[0]})", e);
        }
    }

    private static int Header(byte[] bytes, string path)
    {
        int shards = 0, endianness = 0;
        var input = new CodedInputStream(bytes);
        for (uint tag; (tag = input.ReadTag()) != 0;)
            switch (tag)
            {
                case 1 << 3: shards = input.ReadInt32(); break;
                case 2 << 3: endianness = input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        if (endianness != 0) throw new WeightFileException($"{path}: a big-endian checkpoint (not supported)");
        if (shards is < 1 or > MaxShards) throw new WeightFileException($"{path}: the bundle header claims {shards} data shards");
        return shards;
    }

    private static BundleEntry Entry(string name, byte[] bytes, int shards, string path)
    {
        int dtype = 0, shard = 0;
        long offset = 0, size = 0;
        uint crc = 0;
        var shape = new List<long>();
        var input = new CodedInputStream(bytes);
        for (uint tag; (tag = input.ReadTag()) != 0;)
            switch (tag)
            {
                case 1 << 3: dtype = input.ReadEnum(); break;
                case (2 << 3) | 2: Shape(input.ReadBytes(), shape, name, path); break;
                case 3 << 3: shard = input.ReadInt32(); break;
                case 4 << 3: offset = input.ReadInt64(); break;
                case 5 << 3: size = input.ReadInt64(); break;
                case (6 << 3) | 5: crc = input.ReadFixed32(); break;
                case (7 << 3) | 2: throw new WeightFileException($"{path}: '{name}' is a partitioned (sliced) variable, which is not read");
                default: input.SkipLastField(); break;
            }
        if (shard < 0 || shard >= shards) throw new WeightFileException($"{path}: '{name}' lies in shard {shard} of {shards}");
        if (offset < 0 || size < 0) throw new WeightFileException($"{path}: '{name}' claims {size} bytes at offset {offset}");
        int element = ElementSize(dtype);
        if (element > 0)
        {
            long numel = 1;
            foreach (long d in shape) numel = d == 0 ? 0 : numel > long.MaxValue / d ? -1 : numel * d;
            if (numel < 0 || numel > long.MaxValue / element || numel * element != size)
                throw new WeightFileException($"{path}: '{name}' has shape [{string.Join(", ", shape)}] of {DTypeName(dtype)} but claims {size} bytes");
        }
        return new BundleEntry(name, dtype, [.. shape], shard, offset, size, crc);
    }

    private static void Shape(ByteString bytes, List<long> shape, string name, string path)
    {
        var input = bytes.CreateCodedInput();
        for (uint tag; (tag = input.ReadTag()) != 0;)
        {
            if (tag != ((2 << 3) | 2)) { input.SkipLastField(); continue; }
            long size = 0;
            var dim = input.ReadBytes().CreateCodedInput();
            for (uint t; (t = dim.ReadTag()) != 0;)
                if (t == 1 << 3) size = dim.ReadInt64();
                else dim.SkipLastField();
            if (size < 0 || size > int.MaxValue || shape.Count == MaxRank)
                throw new WeightFileException($"{path}: '{name}' has an impossible shape (dimension {size}, rank above {MaxRank}?)");
            shape.Add(size);
        }
    }

    /// <summary>Bytes per element of a TensorFlow DataType; 0 for variable-size types (strings, variants).</summary>
    private static int ElementSize(int dtype) => dtype switch
    {
        1 or 3 => 4,            // float, int32
        2 or 9 => 8,            // double, int64
        4 or 6 or 10 => 1,      // uint8, int8, bool
        5 or 14 or 19 => 2,     // int16, bfloat16, half
        _ => 0,
    };

    internal static string DTypeName(int dtype) => dtype switch
    {
        1 => "float32", 2 => "float64", 3 => "int32", 4 => "uint8", 5 => "int16", 6 => "int8", 7 => "string",
        9 => "int64", 10 => "bool", 14 => "bfloat16", 19 => "float16", _ => $"DataType {dtype}",
    };

    /// <summary>
    /// Reads float32 variables from the data shards, checking each against its CRC-32C, as CPU tensors of the stored
    /// shape (TensorFlow's layout).
    /// </summary>
    public List<(BundleEntry Entry, Tensor Value)> ReadFloats(IEnumerable<BundleEntry> entries)
    {
        var result = new List<(BundleEntry, Tensor)>();
        var files = new Dictionary<int, FileStream>();
        try
        {
            foreach (var e in entries)
            {
                if (e.DType != DTypeFloat) throw new WeightFileException($"{IndexPath}: '{e.Name}' holds {DTypeName(e.DType)}, not float32");
                string data = DataPath(e.ShardId);
                if (!files.TryGetValue(e.ShardId, out var file))
                {
                    if (!File.Exists(data)) throw new FileNotFoundException($"{data}: the data file of checkpoint {Prefix} is missing (download it beside {Path.GetFileName(IndexPath)})", data);
                    files[e.ShardId] = file = File.OpenRead(data);
                }
                if (e.Offset > file.Length - e.Size)
                    throw new WeightFileException($"{data}: '{e.Name}' ({e.Size} bytes at {e.Offset}) reaches past the end of the file ({file.Length} bytes): truncated?");
                if (e.Size > Array.MaxLength) throw new WeightFileException($"{data}: '{e.Name}' claims {e.Size} bytes: refused");
                var bytes = new byte[e.Size];
                file.Position = e.Offset;
                file.ReadExactly(bytes);
                uint actual = Crc32C.Compute(bytes);
                if (actual != Crc32C.Unmask(e.MaskedCrc32C))
                    throw new WeightFileException($"{data}: '{e.Name}' fails its CRC-32C check (stored {Crc32C.Unmask(e.MaskedCrc32C):x8}, read {actual:x8}): the file is damaged");
                result.Add((e, tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray(), e.Shape)));
            }
            return result;
        }
        catch
        {
            foreach (var (_, t) in result) t.Dispose();
            throw;
        }
        finally
        {
            foreach (var f in files.Values) f.Dispose();
        }
    }
}
