using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using I3D.MLNet.Datasets;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>
/// The report folder of an experiment, which makes a killed run resume and a run again reuse what is done:
/// <c>cells/&lt;name&gt;.json</c> (a cell's accuracies under the key of what they were computed from: the videos'
/// names and sizes and the settings), <c>checkpoints/&lt;name&gt;/</c> (its training) and <c>flow-cache/</c> (optical
/// flow once per video for every architecture, epoch and run).
/// </summary>
internal sealed class ExperimentFolder
{
    public ExperimentFolder(string root)
    {
        Root = root;
        Directory.CreateDirectory(Path.Combine(root, "cells"));
    }

    public string Root { get; }

    /// <summary>The flow options of every clip pipeline of the experiment (the folder's flow cache).</summary>
    public FlowOptions Flow => new() { CacheDirectory = Path.Combine(Root, "flow-cache") };

    /// <summary>
    /// The cells cached as <paramref name="name"/> when their key is <paramref name="key"/> (and <paramref name="complete"/>
    /// says whatever else they need is there), else computed by <paramref name="compute"/> and written. Its argument is
    /// the cell's checkpoint folder, <c>checkpoints/&lt;name&gt;/&lt;key&gt;/</c>: a killed computation resumes there,
    /// and one of other data or settings (another key, whose folder is removed) starts afresh instead of resuming a
    /// training it does not match.
    /// </summary>
    /// <param name="name">The cell's file name (without .json) and checkpoint folder.</param>
    /// <param name="key">What the cell is computed from (<see cref="Key"/>).</param>
    /// <param name="what">The cell in the progress line (an architecture, a mode).</param>
    /// <param name="log">Hears "cached" when the cell is reused.</param>
    /// <param name="compute">Computes the cells, given the checkpoint folder.</param>
    /// <param name="complete">Whether what else the cached cell needs (files it wrote) is there; null: nothing.</param>
    public IReadOnlyList<ExperimentCell> Cells(string name, string key, string what, TextWriter log, Func<string, IReadOnlyList<ExperimentCell>> compute, Func<bool>? complete = null)
    {
        string file = Path.Combine(Root, "cells", $"{name}.json");
        if (Cached(file, key) is { } done && (complete?.Invoke() ?? true))
        {
            log.WriteLine($"experiment: {what}: cached in {file}");
            return done;
        }
        string checkpoints = Path.Combine(Root, "checkpoints", name);
        if (Directory.Exists(checkpoints))
            foreach (var stale in Directory.GetDirectories(checkpoints).Where(d => Path.GetFileName(d) != key))
                Directory.Delete(stale, recursive: true);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var cells = compute(Path.Combine(checkpoints, key));
        AtomicFile.WriteAllText(file, JsonSerializer.Serialize(new CellFile(key, [.. cells]), ExperimentCells.Json));
        log.WriteLine($"experiment: {what}: done in {watch.Elapsed.TotalSeconds:0} s");
        return cells;
    }

    /// <summary>What a cell must have been computed from: the architecture, its clips, the settings, the videos (class,
    /// name, size) of <paramref name="data"/>, and any <paramref name="more"/> (a mode, the key of a source).</summary>
    public static string Key(VideoBackbone backbone, ClipPipelineOptions clips, ExperimentSettings settings, IEnumerable<VideoDataset> data, params string[] more)
    {
        var text = new StringBuilder().Append(backbone.Name).Append('|').Append(JsonSerializer.Serialize(clips with { Flow = new() }))
            .Append('|').Append(JsonSerializer.Serialize(settings with { Threads = 0, ImageNet = null }));
        // Only the ImageNet file this architecture starts from counts (by name and size): another one leaves its cells valid.
        if (settings.ImageNetFor(backbone) is { } imageNet) text.Append("|imagenet:").Append(Path.GetFileName(imageNet)).Append(':').Append(new FileInfo(imageNet).Length);
        foreach (var m in more) text.Append('|').Append(m);
        foreach (var v in data.SelectMany(d => d.Videos))
            text.Append('|').Append(v.Label).Append(':').Append(Path.GetFileName(v.Path)).Append(':').Append(new FileInfo(v.Path).Length);
        return Hash(Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>A short digest of <paramref name="bytes"/> (16 hex digits of SHA-256).</summary>
    public static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes))[..16];

    private sealed record CellFile(string Key, List<ExperimentCell> Cells);

    private static List<ExperimentCell>? Cached(string file, string key)
    {
        if (!File.Exists(file)) return null;
        try { return JsonSerializer.Deserialize<CellFile>(File.ReadAllText(file)) is { } c && c.Key == key ? c.Cells : null; }
        catch (JsonException) { return null; } // a damaged cell is computed again
    }
}
