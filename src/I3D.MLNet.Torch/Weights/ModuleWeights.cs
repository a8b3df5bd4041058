using I3D.MLNet.Torch.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Weights;

/// <summary>Strict loading of state_dicts into modules, and saving modules as torch.save zip archives.</summary>
public static class ModuleWeights
{
    /// <summary>BatchNorm's batch counter (absent from files of PyTorch 0.4.0 and older): loaded when present, never required.</summary>
    private static bool Optional(string key) => key.EndsWith("num_batches_tracked", StringComparison.Ordinal);

    /// <summary>
    /// Copies <paramref name="weights"/> into <paramref name="module"/>. Every parameter and buffer must be present with
    /// the module's shape and no unknown key may remain; otherwise a <see cref="WeightFileException"/> lists them all.
    /// </summary>
    public static void Load(nn.Module module, IReadOnlyList<KeyValuePair<string, Tensor>> weights, string source, string network)
    {
        var expected = module.state_dict();
        var given = new Dictionary<string, Tensor>();
        // Files saved from a torch.nn.DataParallel wrapper prefix every key with "module.".
        const string parallel = "module.";
        bool strip = weights.Count > 0 && weights.All(kv => kv.Key.StartsWith(parallel, StringComparison.Ordinal))
            && !expected.Keys.Any(k => k.StartsWith(parallel, StringComparison.Ordinal));
        foreach (var kv in weights) given[strip ? kv.Key[parallel.Length..] : kv.Key] = kv.Value;
        var missing = expected.Keys.Where(k => !given.ContainsKey(k) && !Optional(k)).ToList();
        var extra = given.Keys.Where(k => !expected.ContainsKey(k) && !Optional(k)).ToList();
        var misshaped = expected.Where(kv => given.TryGetValue(kv.Key, out var g) && !g.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key} (file {Shape(given[kv.Key])}, network {Shape(kv.Value)})").ToList();
        if (missing.Count + extra.Count + misshaped.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"{missing.Count} missing: {List(missing)}");
            if (extra.Count > 0) parts.Add($"{extra.Count} unexpected: {List(extra)}");
            if (misshaped.Count > 0) parts.Add($"{misshaped.Count} with another shape: {List(misshaped)}");
            throw new WeightFileException($"{source}: the weights do not fit {network}: {string.Join("; ", parts)}");
        }
        using var _ = no_grad();
        foreach (var (key, target) in expected)
            if (given.TryGetValue(key, out var value)) target.copy_(value);
    }

    /// <summary>Reads a weight file (<see cref="WeightFiles.Read"/>: a state_dict or a kinetics-i3d TensorFlow checkpoint) and loads it strictly into <paramref name="module"/>.</summary>
    public static void Load(nn.Module module, string path, string network)
    {
        var weights = WeightFiles.Read(path);
        try { Load(module, weights, path, network); }
        finally { foreach (var kv in weights) kv.Value.Dispose(); }
    }

    /// <summary>Saves the module's state_dict (parameters and buffers) as a torch.save zip archive.</summary>
    public static void Save(nn.Module module, string path) => TorchStateDict.Write(path, module.state_dict());

    /// <summary>
    /// Builds an <see cref="InceptionI3d"/> whose input channels and class count are those of the weight file
    /// (<c>Conv3d_1a_7x7.conv3d.weight</c>, <c>logits.conv3d.weight</c>) and loads it, in eval mode.
    /// </summary>
    public static InceptionI3d LoadInceptionI3d(string path, Device? device = null)
    {
        var weights = WeightFiles.Read(path);
        try
        {
            int inChannels = InceptionI3dInputChannels(weights) ?? 3;
            int classes = Dim(weights, "logits.conv3d.weight", 0) ?? 400;
            var net = new InceptionI3d(classes, inChannels);
            try
            {
                Load(net, weights, path, $"InceptionI3d(num_classes={classes}, in_channels={inChannels})");
                net.eval();
                return device is null ? net : net.to(device);
            }
            catch
            {
                net.Dispose();
                throw;
            }
        }
        finally { foreach (var kv in weights) kv.Value.Dispose(); }
    }

    /// <summary>The input channels of InceptionI3d weights (3 RGB, 2 flow: its first kernel's), or null when they are not InceptionI3d's.</summary>
    internal static int? InceptionI3dInputChannels(IReadOnlyList<KeyValuePair<string, Tensor>> weights) => Dim(weights, "Conv3d_1a_7x7.conv3d.weight", 1);

    private static int? Dim(IReadOnlyList<KeyValuePair<string, Tensor>> weights, string key, int dim)
    {
        var t = weights.FirstOrDefault(kv => kv.Key == key || kv.Key == "module." + key).Value;
        return t is not null && t.dim() == 5 ? (int)t.shape[dim] : null;
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    private static string List(List<string> items) =>
        string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", ... ({items.Count - 8} more)" : "");
}
