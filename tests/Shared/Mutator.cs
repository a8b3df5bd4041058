using System.Buffers.Binary;
using System.IO.Compression;

namespace I3D.MLNet.Testing;

/// <summary>
/// Seeded byte mutations for fuzzing file readers: the same seed gives the same mutations, and each one comes with a
/// description that says what was changed (for the failure message and to reproduce it).
/// </summary>
/// <remarks>
/// <see cref="Mutate"/> does one of: flip 1-8 bits; overwrite a run of 1-64 bytes with random bytes, 0x00 or 0xFF;
/// write a boundary integer (0x7FFFFFFF, 0xFFFFFFFF, 2^31, 10^12 ...) of 1, 2, 4 or 8 bytes where a length field may be;
/// truncate at a random point; duplicate a chunk somewhere else; remove a chunk. <see cref="MutateZipEntry"/> mutates the
/// bytes inside one entry of a zip and writes the zip again, so the CRCs are right and the damage reaches the parser
/// of that entry instead of the zip reader's checksum check.
/// </remarks>
internal sealed class Mutator(int seed)
{
    private static readonly long[] BoundaryValues =
        [0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1_000_000_000_000, long.MaxValue, long.MinValue];

    private readonly Random random = new(seed);

    /// <summary>A mutated copy of <paramref name="input"/> (never the same array); <paramref name="description"/> says what changed.</summary>
    public byte[] Mutate(byte[] input, out string description)
    {
        if (input.Length == 0)
        {
            description = "one random byte in place of an empty input";
            return [(byte)random.Next(256)];
        }
        switch (random.Next(6))
        {
            case 0: return FlipBits(input, out description);
            case 1: return OverwriteRun(input, out description);
            case 2: return WriteBoundary(input, out description);
            case 3: return Truncate(input, out description);
            case 4: return Duplicate(input, out description);
            default: return Remove(input, out description);
        }
    }

    /// <summary>
    /// A copy of the zip <paramref name="zip"/> in which one entry's bytes (chosen at random among those
    /// <paramref name="entryFilter"/> accepts, all by default) went through <see cref="Mutate"/>; the other entries, the
    /// entry order and names are kept, and the zip is written again so its CRCs match. The description starts with the entry's name.
    /// </summary>
    public byte[] MutateZipEntry(byte[] zip, out string description, Func<string, bool>? entryFilter = null)
    {
        var entries = new List<(string Name, byte[] Bytes, bool Stored)>();
        using (var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read))
            foreach (var entry in archive.Entries)
            {
                using var s = entry.Open();
                using var memory = new MemoryStream();
                s.CopyTo(memory);
                entries.Add((entry.FullName, memory.ToArray(), entry.CompressedLength == entry.Length));
            }
        var candidates = entries.Select((e, i) => (e.Name, i)).Where(e => entryFilter?.Invoke(e.Name) ?? true).Select(e => e.i).ToList();
        if (candidates.Count == 0) throw new ArgumentException("the zip has no entry the filter accepts", nameof(entryFilter));
        int chosen = candidates[random.Next(candidates.Count)];
        var mutated = Mutate(entries[chosen].Bytes, out string how);
        description = $"entry '{entries[chosen].Name}': {how}";
        using var output = new MemoryStream();
        using (var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            for (int i = 0; i < entries.Count; i++)
            {
                var (name, bytes, stored) = entries[i];
                using var s = archive.CreateEntry(name, stored ? CompressionLevel.NoCompression : CompressionLevel.Fastest).Open();
                s.Write(i == chosen ? mutated : bytes);
            }
        return output.ToArray();
    }

    private byte[] FlipBits(byte[] input, out string description)
    {
        var output = (byte[])input.Clone();
        int count = random.Next(1, 9);
        var at = new List<string>();
        for (int i = 0; i < count; i++)
        {
            int offset = random.Next(output.Length), bit = random.Next(8);
            output[offset] ^= (byte)(1 << bit);
            at.Add($"{offset}.{bit}");
        }
        description = $"flip {count} bit(s) at byte.bit {string.Join(", ", at)}";
        return output;
    }

    private byte[] OverwriteRun(byte[] input, out string description)
    {
        var output = (byte[])input.Clone();
        int offset = random.Next(output.Length), length = Math.Min(random.Next(1, 65), output.Length - offset);
        var run = output.AsSpan(offset, length);
        switch (random.Next(3))
        {
            case 0: random.NextBytes(run); description = $"{length} random bytes at {offset}"; break;
            case 1: run.Fill(0x00); description = $"{length} bytes of 0x00 at {offset}"; break;
            default: run.Fill(0xFF); description = $"{length} bytes of 0xFF at {offset}"; break;
        }
        return output;
    }

    private byte[] WriteBoundary(byte[] input, out string description)
    {
        var output = (byte[])input.Clone();
        int width = new[] { 1, 2, 4, 8 }[random.Next(4)];
        if (width > output.Length) width = 1;
        int offset = random.Next(output.Length - width + 1);
        long value = BoundaryValues[random.Next(BoundaryValues.Length)];
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        bytes[..width].CopyTo(output.AsSpan(offset));
        description = $"the {width}-byte little-endian value 0x{value:X} (low bytes) at {offset}";
        return output;
    }

    private byte[] Truncate(byte[] input, out string description)
    {
        int length = random.Next(input.Length);
        description = $"truncate to {length} of {input.Length} bytes";
        return input[..length];
    }

    private byte[] Duplicate(byte[] input, out string description)
    {
        var (from, length) = Chunk(input.Length);
        int to = random.Next(input.Length + 1);
        description = $"duplicate {length} bytes from {from} at {to}";
        return [.. input.AsSpan(0, to), .. input.AsSpan(from, length), .. input.AsSpan(to)];
    }

    private byte[] Remove(byte[] input, out string description)
    {
        var (from, length) = Chunk(input.Length);
        description = $"remove {length} bytes at {from}";
        return [.. input.AsSpan(0, from), .. input.AsSpan(from + length)];
    }

    /// <summary>A chunk of 1 byte to a quarter of the input (at most 4 KiB), mostly short ones.</summary>
    private (int From, int Length) Chunk(int inputLength)
    {
        int max = Math.Clamp(inputLength / 4, 1, 4096);
        int length = random.Next(2) == 0 ? random.Next(1, Math.Min(max, 16) + 1) : random.Next(1, max + 1);
        return (random.Next(inputLength - length + 1), length);
    }
}
