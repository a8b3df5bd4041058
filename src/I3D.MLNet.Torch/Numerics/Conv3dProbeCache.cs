using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using I3D.MLNet.IO;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// The probe's verdicts on disk, one file per machine identity (<see cref="MachineIdentity.Key"/>):
/// <c>DIR/conv3d-probe-HASH.tsv</c>, HASH the first 16 hex digits of the key's SHA-256.
/// </summary>
/// <remarks>
/// Layout (UTF-8 text, tab-separated, version 5):
/// <code>
/// i3d-mlnet conv3d probe 5
/// machine    &lt;the whole machine key&gt;
/// &lt;device|threads|score, train or train-weights|shape key&gt;    &lt;route&gt;    &lt;direct error, round-trip&gt;    &lt;where the worst error was&gt;
/// ...
/// </code>
/// A file whose header, machine line or any entry does not parse, or whose machine key differs (a copy from another
/// machine), is ignored as a whole; the next verdict rewrites it. Writes go to a temporary file renamed over the old
/// one, after merging the entries another process may have added meanwhile. A folder that cannot be written leaves the
/// verdicts in memory only. Version history: 1 (first: probes of 2 output positions per dimension); 2 (4 in height and
/// width: version 1's verdicts missed 1x7x7 stride-2 kernels that are wrong from 3 positions, so its files are ignored);
/// 3 (separate verdicts for training, forward and gradients, and scoring, the forward alone: version 2 judged every call by
/// its gradients too, which sent scoring to float64 for kernels whose forward is right; its files are ignored); 4 (a small
/// one-clip convolution runs as a batch of two halves, <see cref="Conv3dHalves"/>: version 3 judged libtorch's own
/// one-clip kernel there, not the oneDNN one now called, so its files are ignored); 5 (the shape key ends with the input's
/// length in time, <c>:tN</c>, and the probe measures at that length: version 4 probed every shape on 2 frames, where
/// bfloat16 3x3x3 weight gradients are wrong on AMD Zen 5 and nowhere else measured; a float32 route,
/// <see cref="Conv3dRoute.Float32"/>, comes before float64 for reduced-precision types; and a training call whose input
/// needs no gradient has its own verdict, <c>train-weights</c>; its files are ignored).
/// </remarks>
internal sealed class Conv3dProbeCache
{
    private const string Header = "i3d-mlnet conv3d probe 5";

    private readonly string? path;
    private readonly string machine;
    private readonly Dictionary<string, Conv3dGuard.Verdict> entries;

    private Conv3dProbeCache(string? directory, string? path, string machine, Dictionary<string, Conv3dGuard.Verdict> entries)
    {
        Directory = directory;
        this.path = path;
        this.machine = machine;
        this.entries = entries;
    }

    public string? Directory { get; }

    public string? FilePath => path;

    public static Conv3dProbeCache Open(string? directory, string machine)
    {
        if (directory is null) return new Conv3dProbeCache(null, null, machine, []);
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(machine)))[..16].ToLowerInvariant();
        string file = Path.Combine(directory, $"conv3d-probe-{hash}.tsv");
        return new Conv3dProbeCache(directory, file, machine, Read(file, machine));
    }

    public bool TryGet(string entry, out Conv3dGuard.Verdict verdict) => entries.TryGetValue(entry, out verdict);

    public void Add(string entry, Conv3dGuard.Verdict verdict)
    {
        entries[entry] = verdict;
        if (path is null) return;
        try
        {
            foreach (var (key, value) in Read(path, machine)) entries.TryAdd(key, value);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var text = new StringBuilder().Append(Header).Append('\n').Append("machine\t").Append(machine).Append('\n');
            foreach (var (key, v) in entries.OrderBy(e => e.Key, StringComparer.Ordinal))
                text.Append(key).Append('\t').Append(v.Route).Append('\t')
                    .Append(v.DirectError.ToString("R", CultureInfo.InvariantCulture)).Append('\t').Append(v.Where).Append('\n');
            AtomicFile.WriteAllText(path, text.ToString());
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>The entries of a valid file for <paramref name="machine"/>; none for a missing, corrupt or foreign one.</summary>
    private static Dictionary<string, Conv3dGuard.Verdict> Read(string file, string machine)
    {
        var result = new Dictionary<string, Conv3dGuard.Verdict>();
        string[] lines;
        try
        {
            if (!File.Exists(file)) return result;
            lines = File.ReadAllLines(file);
        }
        catch (IOException) { return result; }
        catch (UnauthorizedAccessException) { return result; }
        if (lines.Length < 2 || lines[0] != Header || lines[1] != $"machine\t{machine}") return result;
        foreach (var line in lines.Skip(2))
        {
            var f = line.Split('\t');
            if (f.Length != 4 || f[0].Length == 0
                || !Enum.TryParse<Conv3dRoute>(f[1], out var route) || !Enum.IsDefined(route) || f[1] != route.ToString()
                || !double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double error) || double.IsNaN(error))
                return [];
            result[f[0]] = new Conv3dGuard.Verdict(route, error, f[3]);
        }
        return result;
    }
}
