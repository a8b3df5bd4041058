namespace I3D.MLNet.Flow;

/// <summary>
/// A comparator network that selects the median of n values (n = 9 or 25 for 3x3 and 5x5 windows): Batcher's odd-even
/// merge sort on the next power of two, with the padding wires (known +infinity) resolved statically and every
/// comparator that cannot reach the median output removed. Run on SIMD vectors it filters 16 pixels at once.
/// </summary>
internal sealed class MedianNetwork
{
    /// <summary>What a comparator (a, b) writes: both min into a and max into b, or only one of them.</summary>
    internal enum Kind : byte { Both, MinOnly, MaxOnly }

    public int Inputs { get; }
    public int Output { get; }
    public (int A, int B, Kind Kind)[] Comparators { get; }

    private static readonly Dictionary<int, MedianNetwork> Cache = [];

    public static MedianNetwork For(int inputs)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(inputs, out var network)) Cache[inputs] = network = new MedianNetwork(inputs);
            return network;
        }
    }

    private MedianNetwork(int n)
    {
        Inputs = n;
        int size = 1;
        while (size < n) size *= 2;
        var batcher = new List<(int, int)>();
        for (int p = 1; p < size; p *= 2)
        for (int k = p; k >= 1; k /= 2)
        for (int j = k % p; j + k < size; j += 2 * k)
        for (int i = 0; i < k && i + j + k < size; i++)
            if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) batcher.Add((i + j, i + j + k));

        // Wires n..size-1 hold +inf. Track, for each logical wire, the register that holds it.
        var register = Enumerable.Range(0, size).ToArray();
        var infinite = Enumerable.Range(0, size).Select(i => i >= n).ToArray();
        var emitted = new List<(int, int)>();
        foreach (var (a, b) in batcher)
        {
            if (infinite[b]) continue; // min(x, inf) = x stays at a, inf stays at b
            if (infinite[a])
            {
                // The finite value moves down to a, the infinity up to b: a relabelling, no work.
                (register[a], register[b]) = (register[b], register[a]);
                (infinite[a], infinite[b]) = (false, true);
                continue;
            }
            emitted.Add((register[a], register[b]));
        }

        int median = (n - 1) / 2;
        Output = register[median];

        // Backwards: keep comparators whose outputs are needed, and only the needed halves.
        var needed = new HashSet<int> { Output };
        var kept = new List<(int, int, Kind)>();
        for (int c = emitted.Count - 1; c >= 0; c--)
        {
            var (a, b) = emitted[c];
            bool needA = needed.Contains(a), needB = needed.Contains(b);
            if (!needA && !needB) continue;
            kept.Add((a, b, needA && needB ? Kind.Both : needA ? Kind.MinOnly : Kind.MaxOnly));
            needed.Add(a);
            needed.Add(b);
        }
        kept.Reverse();
        Comparators = [.. kept];
    }

    /// <summary>Applies the network to scalars (tests, and pixels the vector path does not cover).</summary>
    public float Select(Span<float> values)
    {
        foreach (var (a, b, kind) in Comparators)
        {
            float x = values[a], y = values[b];
            if (kind != Kind.MaxOnly) values[a] = MathF.Min(x, y);
            if (kind != Kind.MinOnly) values[b] = MathF.Max(x, y);
        }
        return values[Output];
    }
}
