using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Weights;

/// <summary>
/// PyTorch <c>state_dict</c> files (<c>torch.save(model.state_dict(), path)</c>) without Python and without running
/// code from the file (<see cref="RestrictedUnpickler"/>). Reads both containers: the zip archive of torch 1.6 and
/// later (<c>archive/data.pkl</c> + <c>archive/data/&lt;key&gt;</c>) and the legacy pickle stream of earlier versions
/// (magic number, protocol, system info, the state_dict pickle, the storage keys, then each storage's bytes), in
/// which the published pytorch-i3d checkpoints were written. Writes the zip container, which torch.load reads.
/// </summary>
internal static class TorchStateDict
{
    /// <summary>A state_dict pickle is a few hundred bytes per tensor; more is refused before it is read.</summary>
    private const long MaxPickleBytes = 64L << 20;

    private static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);

    /// <summary>Reads every tensor of a state_dict file, in file order, on the CPU.</summary>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such weight file", path);
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> head = stackalloc byte[4];
            int n = file.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            file.Position = 0;
            if (n == 4 && head.SequenceEqual("PK\x03\x04"u8)) return ReadZip(file, path);
            if (n >= 2 && head[0] == 0x80) return ReadLegacy(file, path);
            throw new WeightFileException($"{path}: not a PyTorch weight file (neither a torch.save zip archive nor a pickle)");
        }
        catch (Exception e) when (e is InvalidDataException or InvalidCastException or FormatException or OverflowException or EndOfStreamException or ArgumentException)
        {
            throw new WeightFileException($"{path}: not a readable PyTorch state_dict ({e.Message})", e);
        }
    }

    private static IReadOnlyList<KeyValuePair<string, Tensor>> ReadZip(FileStream file, string path)
    {
        using var zip = new ZipArchive(file, ZipArchiveMode.Read);
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal))
            ?? throw new WeightFileException($"{path}: a zip archive without data.pkl: not a torch.save file");
        string prefix = pkl.FullName[..^"data.pkl".Length];
        if (pkl.Length > MaxPickleBytes) throw new WeightFileException($"{path}: data.pkl claims {pkl.Length} bytes: not a state_dict");
        object? root = new RestrictedUnpickler(ToMemory(pkl), path).Load();
        return Materialize(root, path, storage =>
        {
            var entry = zip.GetEntry(prefix + "data/" + storage.Key)
                ?? throw new WeightFileException($"{path}: storage '{storage.Key}' is missing from the archive (truncated file?)");
            long expected = storage.Numel * ElementSize(storage.StorageType);
            if (entry.Length != expected)
                throw new WeightFileException($"{path}: storage '{storage.Key}' holds {entry.Length} bytes, its {storage.Numel} elements need {expected}");
            return ToMemory(entry).ToArray();
        });
    }

    private static MemoryStream ToMemory(ZipArchiveEntry entry)
    {
        var memory = new MemoryStream();
        using (var s = entry.Open()) s.CopyTo(memory);
        memory.Position = 0;
        return memory;
    }

    private static IReadOnlyList<KeyValuePair<string, Tensor>> ReadLegacy(FileStream file, string path)
    {
        var unpickler = new RestrictedUnpickler(file, path);
        if (unpickler.Load() is not BigInteger magic || magic != LegacyMagic)
            throw new WeightFileException($"{path}: a pickle but not a torch.save file (no legacy magic number)");
        if (unpickler.Load() is not long protocol || protocol != 1001)
            throw new WeightFileException($"{path}: unsupported legacy torch.save protocol");
        if (unpickler.Load() is PickleDict sysInfo && sysInfo.Any(kv => kv.Key as string == "little_endian" && kv.Value is false))
            throw new WeightFileException($"{path}: written on a big-endian machine (not supported)");
        object? root = unpickler.Load();
        if (unpickler.Load() is not List<object?> keys) throw new WeightFileException($"{path}: the storage key list is missing");

        var data = new Dictionary<string, byte[]>();
        var sizes = ElementSizesByKey(root);
        Span<byte> count = stackalloc byte[8];
        foreach (var k in keys)
        {
            string key = Convert.ToString(k, System.Globalization.CultureInfo.InvariantCulture) ?? "";
            if (!sizes.TryGetValue(key, out int elementSize)) throw new WeightFileException($"{path}: storage '{key}' is not used by any tensor");
            if (file.ReadAtLeast(count, 8, throwOnEndOfStream: false) < 8) throw Truncated(path, key);
            long numel = BinaryPrimitives.ReadInt64LittleEndian(count);
            // numel * elementSize could wrap around: compare the element count with what the bytes left can hold.
            if (numel < 0 || numel > (file.Length - file.Position) / elementSize) throw Truncated(path, key);
            var bytes = new byte[numel * elementSize];
            file.ReadExactly(bytes);
            data[key] = bytes;
        }
        return Materialize(root, path, storage => data.TryGetValue(storage.Key, out var b) ? b : throw Truncated(path, storage.Key));
    }

    private static WeightFileException Truncated(string path, string key) => new($"{path}: the data of storage '{key}' is cut short: the file is truncated");

    private static Dictionary<string, int> ElementSizesByKey(object? root)
    {
        var sizes = new Dictionary<string, int>();
        if (root is PickleDict dict)
            foreach (var kv in dict)
                if (kv.Value is TensorRef t) sizes[t.Storage.View?.RootKey ?? t.Storage.Key] = ElementSize(t.Storage.StorageType);
        return sizes;
    }

    private static int ElementSize(string storageType) => storageType switch
    {
        "DoubleStorage" or "LongStorage" => 8,
        "FloatStorage" or "IntStorage" => 4,
        "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2,
        _ => 1,
    };

    private static IReadOnlyList<KeyValuePair<string, Tensor>> Materialize(object? root, string path, Func<StorageRef, byte[]> bytesOf)
    {
        if (root is not PickleDict dict) throw new WeightFileException($"{path}: the pickle holds a {Describe(root)}, not a state_dict");
        var storages = new Dictionary<string, Tensor>();
        var result = new List<KeyValuePair<string, Tensor>>();
        try
        {
            foreach (var (k, v) in dict)
            {
                if (k is not string name) throw new WeightFileException($"{path}: a state_dict key is a {Describe(k)}, not a string");
                if (v is not TensorRef t) throw new WeightFileException($"{path}: '{name}' holds a {Describe(v)}, not a tensor");
                var s = t.Storage;
                string rootKey = s.View?.RootKey ?? s.Key;
                if (!storages.TryGetValue(rootKey, out var storage))
                    storages[rootKey] = storage = StorageTensor(bytesOf(s with { Key = rootKey }), s.StorageType, path, rootKey);
                long baseOffset = s.View?.Offset ?? 0, available = s.View?.Numel ?? storage.shape[0];
                if (t.Offset < 0 || baseOffset < 0 || available < 0 || t.Offset + Extent(t, name, path) > available || baseOffset > storage.shape[0] - available)
                    throw new WeightFileException($"{path}: tensor '{name}' reaches past its storage (truncated or corrupt file)");
                using var view = storage.as_strided(t.Size, t.Stride, baseOffset + t.Offset);
                result.Add(new(name, view.clone()));
            }
        }
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
        finally
        {
            foreach (var s in storages.Values) s.Dispose();
        }
        return result;
    }

    /// <summary>
    /// How many elements of its storage a tensor spans (0 when one of its sizes is 0), refusing what no state_dict holds: a
    /// negative size or stride, more sizes than strides, more elements than it spans (a broadcast view: 10^12 elements of
    /// one float would be allocated by the copy), numbers beyond 2^63.
    /// </summary>
    private static long Extent(TensorRef t, string name, string path)
    {
        if (t.Size.Length != t.Stride.Length || t.Size.Any(d => d < 0) || t.Stride.Any(d => d < 0))
            throw new WeightFileException($"{path}: tensor '{name}' has sizes [{string.Join(", ", t.Size)}] and strides [{string.Join(", ", t.Stride)}]: not a stored tensor");
        if (t.Size.Any(d => d == 0)) return 0;
        try
        {
            long extent = checked(1 + t.Size.Zip(t.Stride, (d, st) => checked((d - 1) * st)).Sum());
            long elements = t.Size.Aggregate(1L, (a, d) => checked(a * d));
            if (elements > extent)
                throw new WeightFileException($"{path}: tensor '{name}' has {elements} elements in {extent} of its storage (sizes [{string.Join(", ", t.Size)}], strides [{string.Join(", ", t.Stride)}]): not a stored tensor");
            return extent;
        }
        catch (OverflowException)
        {
            throw new WeightFileException($"{path}: tensor '{name}' has sizes [{string.Join(", ", t.Size)}] and strides [{string.Join(", ", t.Stride)}] beyond 2^63 elements: a corrupt file");
        }
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PickleDict => "dict",
        TensorRef => "tensor",
        object?[] => "tuple",
        _ => o.GetType().Name,
    };

    private static Tensor StorageTensor(byte[] bytes, string storageType, string path, string key)
    {
        int size = ElementSize(storageType);
        if (bytes.Length % size != 0) throw new WeightFileException($"{path}: storage '{key}' has {bytes.Length} bytes, not a multiple of {size}");
        return storageType switch
        {
            "FloatStorage" => tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray()),
            "DoubleStorage" => tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray()),
            "LongStorage" => tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray()),
            "IntStorage" => tensor(MemoryMarshal.Cast<byte, int>(bytes).ToArray()),
            "ShortStorage" => tensor(MemoryMarshal.Cast<byte, short>(bytes).ToArray()),
            "HalfStorage" => View16(bytes, ScalarType.Float16),
            "BFloat16Storage" => View16(bytes, ScalarType.BFloat16),
            "CharStorage" => tensor(MemoryMarshal.Cast<byte, sbyte>(bytes).ToArray()),
            "ByteStorage" => tensor(bytes),
            "BoolStorage" => tensor(bytes.Select(b => b != 0).ToArray()),
            _ => throw new WeightFileException($"{path}: unsupported storage type {storageType}"),
        };
    }

    private static Tensor View16(byte[] bytes, ScalarType type)
    {
        // Widen to float32 (exact for both 16-bit formats), then narrow back: the same bits as the file.
        var bits = MemoryMarshal.Cast<byte, ushort>(bytes);
        var values = new float[bits.Length];
        for (int i = 0; i < bits.Length; i++)
            values[i] = type == ScalarType.Float16 ? (float)BitConverter.UInt16BitsToHalf(bits[i]) : BitConverter.Int32BitsToSingle(bits[i] << 16);
        using var wide = tensor(values);
        return wide.to(type);
    }

    /// <summary>
    /// Writes tensors as a torch.save zip archive (what <c>torch.save(state_dict, path)</c> writes since torch 1.6):
    /// Python reads it with <c>torch.load(path)</c>, and <see cref="Read"/> reads it back. Written atomically: a failure
    /// (a full disk) leaves the previous file as it was and says so in an <see cref="IOException"/> naming the file.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var items = tensors.ToList();
        I3D.MLNet.IO.AtomicFile.Write(path, file =>
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
            const string prefix = "archive/";
            var pickle = new PickleWriter();
            pickle.StateDict(items.Select((kv, i) => (kv.Key, i.ToString(System.Globalization.CultureInfo.InvariantCulture), kv.Value)));
            Add(zip, prefix + "data.pkl", pickle.ToArray());
            for (int i = 0; i < items.Count; i++)
            {
                using var cpu = items[i].Value.detach().cpu().contiguous();
                Add(zip, prefix + "data/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), cpu.bytes.ToArray());
            }
            Add(zip, prefix + "version", "3\n"u8.ToArray());
        });
    }

    private static void Add(ZipArchive zip, string name, byte[] data)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using var s = entry.Open();
        s.Write(data);
    }

    internal static string StorageTypeOf(ScalarType type) => type switch
    {
        ScalarType.Float32 => "FloatStorage",
        ScalarType.Float64 => "DoubleStorage",
        ScalarType.Float16 => "HalfStorage",
        ScalarType.BFloat16 => "BFloat16Storage",
        ScalarType.Int64 => "LongStorage",
        ScalarType.Int32 => "IntStorage",
        ScalarType.Int16 => "ShortStorage",
        ScalarType.Int8 => "CharStorage",
        ScalarType.Byte => "ByteStorage",
        ScalarType.Bool => "BoolStorage",
        _ => throw new NotSupportedException($"tensors of type {type} cannot be saved"),
    };

    /// <summary>The pickle (protocol 2) of an OrderedDict of tensors, the way torch.save writes it.</summary>
    private sealed class PickleWriter
    {
        private readonly MemoryStream s = new();

        public void StateDict(IEnumerable<(string Name, string Key, Tensor Value)> items)
        {
            s.Write([0x80, 2]);
            Global("collections", "OrderedDict");
            s.WriteByte((byte)')');
            s.WriteByte((byte)'R');
            s.WriteByte((byte)'(');
            foreach (var (name, key, value) in items)
            {
                String(name);
                Global("torch._utils", "_rebuild_tensor_v2");
                s.WriteByte((byte)'(');
                s.WriteByte((byte)'(');
                String("storage");
                Global("torch", StorageTypeOf(value.dtype));
                String(key);
                String("cpu");
                Int(value.numel());
                s.WriteByte((byte)'t');
                s.WriteByte((byte)'Q');
                Int(0);
                Ints(value.shape);
                Ints(ContiguousStrides(value.shape));
                s.WriteByte(0x89); // False: requires_grad
                Global("collections", "OrderedDict");
                s.WriteByte((byte)')');
                s.WriteByte((byte)'R');
                s.WriteByte((byte)'t');
                s.WriteByte((byte)'R');
            }
            s.WriteByte((byte)'u');
            s.WriteByte((byte)'.');
        }

        public byte[] ToArray() => s.ToArray();

        private static long[] ContiguousStrides(long[] shape)
        {
            var strides = new long[shape.Length];
            long acc = 1;
            for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = acc; acc *= shape[i]; }
            return strides;
        }

        private void Global(string module, string name) => s.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

        private void String(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            s.WriteByte((byte)'X');
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(len, bytes.Length);
            s.Write(len);
            s.Write(bytes);
        }

        private void Int(long value)
        {
            if (value < int.MinValue || value > int.MaxValue) throw new NotSupportedException("tensor dimension beyond 2^31");
            s.WriteByte((byte)'J');
            Span<byte> v = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(v, (int)value);
            s.Write(v);
        }

        private void Ints(long[] values)
        {
            s.WriteByte((byte)'(');
            foreach (var v in values) Int(v);
            s.WriteByte((byte)'t');
        }
    }
}
