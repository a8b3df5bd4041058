using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using I3D.MLNet.IO;
using I3D.MLNet.Video;

namespace I3D.MLNet.Flow;

/// <summary>
/// On-disk cache of encoded flow videos, so that a clip's flow is computed once across epochs and runs.
/// </summary>
/// <remarks>
/// Key: SHA-256 of (the RGB frames' bytes, frame count, size, frame rate, algorithm and all its parameters, bound,
/// quantisation). Entry: a header (magic, key, shape, frame rate, encoding), the flow as 8-bit codes (quantised flow:
/// exact) or IEEE half floats (otherwise: error below 5e-4 on values in [-1, 1]) compressed with zlib, and a SHA-256 of
/// everything before it. An entry whose checksum, key or shape does not match (corrupt, truncated, another version) is
/// ignored and recomputed. Writers write a temporary file in the same directory and rename it over the entry (atomic on
/// POSIX file systems), so several processes can fill the cache at once; the last rename wins, with identical content.
/// An entry that cannot be written (a full disk) leaves the entries already there intact and is not an error: the flow
/// is returned anyway, the failure is counted (<see cref="WriteFailures"/>) and the first one is kept and said once as a
/// warning (<see cref="FirstWriteFailure"/>).
/// </remarks>
public sealed class FlowCache
{
    private static ReadOnlySpan<byte> Magic => "I3DFLOW1"u8;
    private const byte EncodingCodes = 1, EncodingHalf = 2;
    private const int HeaderLength = 8 + 32 + 4 * 3 + 8 + 1;
    private int _hits, _misses, _corrupt, _stores, _writeFailures, _writeFailureReported;
    private string? _firstWriteFailure;

    /// <summary>The cache folder (flow files named by the hash of the frames and the flow options).</summary>
    public string Directory { get; }

    /// <summary>Entries read back.</summary>
    public int Hits => _hits;

    /// <summary>Lookups that found no usable entry (each one leads to a computation).</summary>
    public int Misses => _misses;

    /// <summary>Entries found but rejected (bad checksum, truncated, wrong key or shape).</summary>
    public int Corrupt => _corrupt;

    /// <summary>Entries written.</summary>
    public int Stores => _stores;

    /// <summary>Entries that could not be written (full disk, no permission): the flow is still returned, just not kept.</summary>
    public int WriteFailures => _writeFailures;

    /// <summary>Why the first entry that could not be written was not (it names the entry and says when the disk is
    /// full); null while every write succeeded.</summary>
    public string? FirstWriteFailure => Volatile.Read(ref _firstWriteFailure);

    /// <summary>A cache in <paramref name="directory"/>, created if absent.</summary>
    public FlowCache(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
    }

    private static readonly Dictionary<string, FlowCache> Shared = [];

    /// <summary>The cache instance of a directory shared by this process (its counters add up across users).</summary>
    public static FlowCache Open(string directory)
    {
        string full = Path.GetFullPath(directory);
        lock (Shared)
        {
            if (!Shared.TryGetValue(full, out var cache)) Shared[full] = cache = new FlowCache(full);
            return cache;
        }
    }

    /// <summary>The key of the flow of <paramref name="rgb"/> under <paramref name="options"/> (hex SHA-256).</summary>
    public string Key(VideoFrames rgb, FlowOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"i3d-flow-v1;{options.CanonicalText()};frames={rgb.FrameCount};h={rgb.Height};w={rgb.Width};fps={rgb.FramesPerSecond:R};")));
        hash.AppendData(rgb.Bytes);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private string EntryPath(string key) => Path.Combine(Directory, key[..40] + ".flow");

    /// <summary>Reads the entry into <paramref name="flow"/> (already shaped) when it exists and is intact.</summary>
    internal bool TryLoad(string key, VideoFrames flow)
    {
        string path = EntryPath(key);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Absent (the usual miss), or unreadable: computed again either way.
            Interlocked.Increment(ref _misses);
            return false;
        }
        if (Decode(bytes, key, flow))
        {
            Interlocked.Increment(ref _hits);
            return true;
        }
        Interlocked.Increment(ref _corrupt);
        Interlocked.Increment(ref _misses);
        return false;
    }

    private static bool Decode(byte[] bytes, string key, VideoFrames flow)
    {
        try
        {
            if (bytes.Length < HeaderLength + 32) return false;
            var body = bytes.AsSpan(0, bytes.Length - 32);
            if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32))) return false;
            if (!body[..8].SequenceEqual(Magic) || !body.Slice(8, 32).SequenceEqual(Convert.FromHexString(key))) return false;
            int t = BinaryPrimitives.ReadInt32LittleEndian(body[40..]);
            int h = BinaryPrimitives.ReadInt32LittleEndian(body[44..]);
            int w = BinaryPrimitives.ReadInt32LittleEndian(body[48..]);
            byte encoding = body[60];
            if (t != flow.FrameCount || h != flow.Height || w != flow.Width) return false;
            int count = t * h * w * 2;
            using var input = new ZLibStream(new MemoryStream(bytes, HeaderLength, body.Length - HeaderLength), CompressionMode.Decompress);
            var values = flow.Floats;
            if (encoding == EncodingCodes)
            {
                var codes = new byte[count];
                input.ReadExactly(codes);
                for (int i = 0; i < count; i++) values[i] = OpticalFlow.Decode(codes[i]);
            }
            else if (encoding == EncodingHalf)
            {
                var raw = new byte[count * 2];
                input.ReadExactly(raw);
                for (int i = 0; i < count; i++) values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw.AsSpan(2 * i));
            }
            else
            {
                return false;
            }
            return input.ReadByte() == -1;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException or FormatException)
        {
            return false;
        }
    }

    /// <summary>Writes the entry (<see cref="AtomicFile"/>: temporary file, then atomic rename); a failure to write is
    /// counted and kept (<see cref="FirstWriteFailure"/>), not thrown: a full disk must not stop a training.</summary>
    internal void Store(string key, VideoFrames flow, bool quantized)
    {
        using var buffer = new MemoryStream();
        Span<byte> header = stackalloc byte[HeaderLength];
        Magic.CopyTo(header);
        Convert.FromHexString(key).CopyTo(header[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], flow.FrameCount);
        BinaryPrimitives.WriteInt32LittleEndian(header[44..], flow.Height);
        BinaryPrimitives.WriteInt32LittleEndian(header[48..], flow.Width);
        BinaryPrimitives.WriteDoubleLittleEndian(header[52..], flow.FramesPerSecond);
        header[60] = quantized ? EncodingCodes : EncodingHalf;
        buffer.Write(header);
        var values = flow.Floats;
        using (var z = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            if (quantized)
            {
                var codes = new byte[values.Length];
                for (int i = 0; i < values.Length; i++) codes[i] = OpticalFlow.Code(values[i]);
                z.Write(codes);
            }
            else
            {
                var raw = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(raw.AsSpan(2 * i), (Half)values[i]);
                z.Write(raw);
            }
        }
        var checksum = SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        buffer.Write(checksum);

        string path = EntryPath(key);
        try
        {
            AtomicFile.Write(path, file =>
            {
                buffer.Position = 0;
                buffer.CopyTo(file);
            }, buffer.Length);
            Interlocked.Increment(ref _stores);
        }
        catch (IOException e)
        {
            Interlocked.Increment(ref _writeFailures);
            Interlocked.CompareExchange(ref _firstWriteFailure, $"the flow cache in {Directory} could not keep an entry: the flow is computed "
                + $"but not kept (not an error; a later run computes it again): {e.Message}", null);
        }
    }

    /// <summary>
    /// The first write failure's message once, then null: who computes flow through the cache (ExtractOpticalFlow, the
    /// <c>i3d flow</c> command) says it once as a warning; <see cref="WriteFailures"/> counts them all.
    /// </summary>
    internal string? TakeWriteFailureReport()
        => Volatile.Read(ref _firstWriteFailure) is { } message && Interlocked.Exchange(ref _writeFailureReported, 1) == 0 ? message : null;
}
