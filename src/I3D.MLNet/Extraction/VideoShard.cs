using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace I3D.MLNet.Extraction;

/// <summary>
/// One shard of a batch job over a dataset: shard <see cref="Index"/> of <see cref="Count"/>. A video belongs to the
/// shard given by a hash of its id (its path relative to the dataset's root), never by its position in the list, so
/// adding videos to a list moves no video already in it to another shard, and every shard process decides alone.
/// </summary>
/// <param name="Index">0-based shard number.</param>
/// <param name="Count">Number of shards (at least 1).</param>
public readonly record struct VideoShard(int Index, int Count)
{
    /// <summary>The whole dataset as one shard.</summary>
    public static VideoShard All => new(0, 1);

    /// <summary>The shard <paramref name="videoId"/> belongs to among <paramref name="count"/>: the first 8 bytes of the
    /// SHA-256 of its UTF-8 bytes, as an unsigned little-endian integer, modulo the count.</summary>
    public static int Of(string videoId, int count)
    {
        ArgumentNullException.ThrowIfNull(videoId);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(videoId), hash);
        return (int)(BinaryPrimitives.ReadUInt64LittleEndian(hash) % (ulong)count);
    }

    /// <summary>Whether <paramref name="videoId"/> is in this shard.</summary>
    public bool Contains(string videoId) => Of(videoId, Count) == Index;

    /// <summary>The shard as <c>i/N</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>Reads <c>i/N</c> (0 &lt;= i &lt; N).</summary>
    public static VideoShard Parse(string text)
    {
        var parts = (text ?? "").Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return Checked(i, n, $"'{text}'");
        throw new FormatException($"'{text}' is not a shard: expected i/N (0 <= i < N), e.g. 3/16");
    }

    /// <summary>
    /// The shard a scheduler gave this process: Kubernetes' Indexed Job (<c>JOB_COMPLETION_INDEX</c>, with the shard count
    /// <paramref name="count"/> since Kubernetes does not pass it) or a Slurm job array (<c>SLURM_ARRAY_TASK_ID</c> and
    /// <c>SLURM_ARRAY_TASK_COUNT</c>, or <paramref name="count"/>); null when neither is set.
    /// </summary>
    /// <param name="environment">Reads a variable (<see cref="Environment.GetEnvironmentVariable(string)"/> by default).</param>
    /// <param name="count">The shard count given on the command line, if any.</param>
    public static VideoShard? FromEnvironment(Func<string, string?> environment, int? count)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment("JOB_COMPLETION_INDEX") is { Length: > 0 } index)
        {
            if (count is null) throw new ArgumentException("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the shard count with --shards N (the Job's completions)");
            return Checked(Number(index, "JOB_COMPLETION_INDEX"), count.Value, "JOB_COMPLETION_INDEX");
        }
        if (environment("SLURM_ARRAY_TASK_ID") is { Length: > 0 } task)
        {
            int n = count ?? (environment("SLURM_ARRAY_TASK_COUNT") is { Length: > 0 } tasks ? Number(tasks, "SLURM_ARRAY_TASK_COUNT")
                : throw new ArgumentException("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give the shard count with --shards N"));
            // Arrays usually run 0..N-1; one that starts elsewhere (--array=1-N) is shifted by SLURM_ARRAY_TASK_MIN.
            int min = environment("SLURM_ARRAY_TASK_MIN") is { Length: > 0 } m ? Number(m, "SLURM_ARRAY_TASK_MIN") : 0;
            return Checked(Number(task, "SLURM_ARRAY_TASK_ID") - min, n, "SLURM_ARRAY_TASK_ID");
        }
        return count is null ? null : throw new ArgumentException("--shards N needs the shard's index from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (or give --shard i/N)");
    }

    private static int Number(string text, string name)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw new FormatException($"{name}='{text}' is not a number");

    private static VideoShard Checked(int index, int count, string what)
    {
        if (count < 1) throw new ArgumentException($"{what}: the shard count must be at least 1, not {count}");
        if (index < 0 || index >= count) throw new ArgumentException($"{what}: shard {index} is not in 0..{count - 1}");
        return new VideoShard(index, count);
    }
}
