using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace I3D.MLNet.IO;

/// <summary>A float32 array with its shape, as read from or written to a NumPy <c>.npy</c> file (C order).</summary>
internal sealed record NpyArray(int[] Shape, float[] Data)
{
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc/>
    public override string ToString() => $"float32 ({string.Join(", ", Shape)})";
}

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files (format versions 1-3): little- or big-endian float32 and float64,
/// C order. Enough for kinetics-i3d's sample clips and logits; anything else is refused with a message naming the file.
/// </summary>
internal static partial class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static void Write(string path, ReadOnlySpan<float> data, params int[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != data.Length) throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {count} values, the data {data.Length}");
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = Magic.Length + 2 + 2 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";

        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian machines");
        long bytes = (long)data.Length * sizeof(float);
        unsafe
        {
            // Pinned for the (synchronous) write: the writer reads the caller's values in place, no copy of them.
            fixed (float* values = data)
            {
                nint address = (nint)values;
                AtomicFile.Write(path, stream =>
                {
                    stream.Write(Magic);
                    stream.Write([1, 0]);
                    Span<byte> len = stackalloc byte[2];
                    BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
                    stream.Write(len);
                    stream.Write(Encoding.ASCII.GetBytes(header));
                    stream.Write(new ReadOnlySpan<byte>((void*)address, checked((int)bytes)));
                }, Magic.Length + 2 + 2 + header.Length + bytes);
            }
        }
    }

    public static NpyArray Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    public static NpyArray Read(Stream stream, string name)
    {
        var reader = new BinaryReader(stream);
        byte[] magic = reader.ReadBytes(6);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{name}: not a .npy file (no \\x93NUMPY magic)");
        int major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major switch
        {
            1 => reader.ReadUInt16(),
            2 or 3 => checked((int)reader.ReadUInt32()),
            _ => throw new InvalidDataException($"{name}: .npy format version {major} is not supported"),
        };
        string header = Encoding.UTF8.GetString(reader.ReadBytes(headerLength));
        string descr = DescrPattern().Match(header) is { Success: true } d ? d.Groups[1].Value : throw new InvalidDataException($"{name}: .npy header has no descr: {header.Trim()}");
        if (FortranPattern().IsMatch(header)) throw new InvalidDataException($"{name}: Fortran-order arrays are not supported; save with np.ascontiguousarray");
        var shapeMatch = ShapePattern().Match(header);
        if (!shapeMatch.Success) throw new InvalidDataException($"{name}: .npy header has no shape: {header.Trim()}");
        int[] shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count > Array.MaxLength) throw new InvalidDataException($"{name}: {count} values are too many for one array");

        var data = new float[count];
        bool little = descr[0] is '<' or '|' or '=';
        int size = descr[1..] switch
        {
            "f4" => 4,
            "f8" => 8,
            _ => throw new InvalidDataException($"{name}: dtype '{descr}' is not supported (float32 or float64 only)"),
        };
        byte[] raw = reader.ReadBytes(checked((int)(count * size)));
        if (raw.Length != count * size) throw new InvalidDataException($"{name}: truncated: the header promises {count} values of {size} bytes, the file has {raw.Length} bytes of data");
        for (long i = 0; i < count; i++)
        {
            var s = raw.AsSpan((int)(i * size), size);
            data[i] = size == 4
                ? (little ? BinaryPrimitives.ReadSingleLittleEndian(s) : BinaryPrimitives.ReadSingleBigEndian(s))
                : (float)(little ? BinaryPrimitives.ReadDoubleLittleEndian(s) : BinaryPrimitives.ReadDoubleBigEndian(s));
        }
        return new NpyArray(shape, data);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*True")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
