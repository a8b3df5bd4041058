using System.Buffers.Binary;
using System.Text;
using I3D.MLNet.Testing;

namespace I3D.MLNet.Fuzz;

/// <summary>
/// Mutations of video files, each with a kind (a row of the report) and a description (to reproduce it): the byte-level
/// ones of <see cref="Mutator"/> anywhere in the file, and three that know containers: damage inside the container
/// header (an MP4's <c>moov</c> box, an AVI's <c>hdrl</c> list, the first 4 KiB otherwise), boundary values written
/// into codec parameters (the fields after <c>avcC</c>, <c>stsd</c>, <c>tkhd</c>, <c>strf</c>, <c>avih</c> ...: widths,
/// heights, sizes, counts), and swapped streams (the header of one file with the media data of another).
/// </summary>
internal sealed class VideoMutations(int seed)
{
    /// <summary>The report's rows, in order.</summary>
    public static readonly string[] Kinds = ["bit-flips", "byte-run", "boundary-value", "truncation", "duplicate-chunk", "remove-chunk", "container-header", "codec-parameters", "swapped-streams"];

    private static readonly string[] Tags = ["avcC", "stsd", "tkhd", "mvhd", "mdhd", "stts", "stsz", "stco", "stsc", "ctts", "hvcC", "esds", "strh", "strf", "avih", "idx1", "indx"];
    private static readonly long[] Boundaries = [0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 60000, 1 << 20];

    private readonly Random _random = new(seed);
    private readonly Mutator _bytes = new(seed);

    /// <summary>A mutated copy of <paramref name="input"/> (a file's bytes; <paramref name="other"/> another file's, for swaps).</summary>
    public (string Kind, string Description, byte[] Bytes) Mutate(byte[] input, byte[] other)
    {
        switch (_random.Next(4))
        {
            case 0: return Header(input);
            case 1: return CodecParameters(input);
            case 2: return Swapped(input, other);
            default:
                var bytes = _bytes.Mutate(input, out string description);
                return (KindOf(description), description, bytes);
        }
    }

    /// <summary>The <see cref="Mutator"/> description's kind.</summary>
    private static string KindOf(string description) => description switch
    {
        _ when description.StartsWith("flip", StringComparison.Ordinal) => "bit-flips",
        _ when description.StartsWith("the ", StringComparison.Ordinal) => "boundary-value",
        _ when description.StartsWith("truncate", StringComparison.Ordinal) => "truncation",
        _ when description.StartsWith("duplicate", StringComparison.Ordinal) => "duplicate-chunk",
        _ when description.StartsWith("remove", StringComparison.Ordinal) => "remove-chunk",
        _ => "byte-run",
    };

    private (string, string, byte[]) Header(byte[] input)
    {
        var (start, length) = HeaderRegion(input);
        var region = _bytes.Mutate(input.AsSpan(start, length).ToArray(), out string how);
        return ("container-header", $"header bytes {start}..{start + length}: {how}", [.. input.AsSpan(0, start), .. region, .. input.AsSpan(start + length)]);
    }

    /// <summary>An MP4's moov box, an AVI's hdrl list, else the first 4 KiB.</summary>
    private static (int Start, int Length) HeaderRegion(byte[] input)
    {
        foreach (var tag in new[] { "moov", "hdrl" })
        {
            int at = input.AsSpan().IndexOf(Encoding.ASCII.GetBytes(tag));
            if (at < 4) continue;
            long size = tag == "moov" ? BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at - 4)) : BinaryPrimitives.ReadUInt32LittleEndian(input.AsSpan(at - 4));
            int start = at - 4;
            return (start, (int)Math.Clamp(size, 8, input.Length - start));
        }
        return (0, Math.Min(4096, input.Length));
    }

    private (string, string, byte[]) CodecParameters(byte[] input)
    {
        var found = new List<(string Tag, int At)>();
        foreach (var tag in Tags)
        {
            var pattern = Encoding.ASCII.GetBytes(tag);
            for (int at = input.AsSpan().IndexOf(pattern); at >= 0 && found.Count < 256;)
            {
                found.Add((tag, at));
                int next = input.AsSpan(at + 4).IndexOf(pattern);
                at = next < 0 ? -1 : at + 4 + next;
            }
        }
        var output = (byte[])input.Clone();
        if (found.Count == 0)
        {
            var bytes = _bytes.Mutate(input, out string description);
            return (KindOf(description), description, bytes);
        }
        var (name, position) = found[_random.Next(found.Count)];
        int width = _random.Next(2) == 0 ? 2 : 4;
        int offset = Math.Min(position + 4 + _random.Next(48), output.Length - width);
        long value = Boundaries[_random.Next(Boundaries.Length)];
        bool bigEndian = !input.AsSpan().StartsWith("RIFF"u8); // MP4 boxes are big-endian, RIFF (AVI) chunks little-endian
        Span<byte> field = stackalloc byte[4];
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(field, (uint)value); else BinaryPrimitives.WriteUInt32LittleEndian(field, (uint)value);
        (bigEndian ? field[(4 - width)..] : field[..width]).CopyTo(output.AsSpan(offset));
        return ("codec-parameters", $"{width}-byte {(bigEndian ? "big" : "little")}-endian 0x{value:X} at {offset} ({offset - position} after '{name}')", output);
    }

    private (string, string, byte[]) Swapped(byte[] input, byte[] other)
    {
        var (start, length) = HeaderRegion(input);
        int split = Math.Clamp(start + length + _random.Next(64), 1, input.Length);
        int from = Math.Clamp(HeaderRegion(other) is var (s, l) ? s + l : 0, 0, other.Length);
        return ("swapped-streams", $"this file's first {split} bytes (its header) and another's media data from {from}", [.. input.AsSpan(0, split), .. other.AsSpan(from)]);
    }
}
