using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Weights.TensorFlow;

/// <summary>
/// A kinetics-i3d TensorFlow checkpoint as pytorch-i3d's state_dict (what pytorch-i3d's converted <c>.pt</c> files
/// hold): kernels T x H x W x in x out become out x in x T x H x W, BatchNorm vectors (stored 1 x 1 x 1 x 1 x C) become
/// C, and every BatchNorm gets <c>bn.weight</c> = 1 (Sonnet's BatchNorm had no scale). Optimizer slots are skipped;
/// any other variable that is not I3D's is an error naming it.
/// </summary>
internal static class KineticsI3dCheckpoint
{
    public static List<KeyValuePair<string, Tensor>> Read(string indexPath)
    {
        var bundle = TensorBundle.Open(indexPath);
        var wanted = new List<(BundleEntry Entry, string Key)>();
        var unknown = new List<string>();
        var scopes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in bundle.Entries)
        {
            if (KineticsI3dNames.IsBookkeeping(e.Name)) continue;
            if (KineticsI3dNames.ToTorch(e.Name) is not { } mapped) { unknown.Add(e.Name); continue; }
            wanted.Add((e, mapped.Key));
            scopes.Add(mapped.Scope);
        }
        if (unknown.Count > 0)
            throw new WeightFileException($"{indexPath}: not a kinetics-i3d InceptionI3d checkpoint: {unknown.Count} variables are not I3D's ({string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? ", ..." : "")})");
        if (wanted.Count == 0) throw new WeightFileException($"{indexPath}: a TensorFlow checkpoint without I3D variables");
        if (scopes.Count > 1)
            throw new WeightFileException($"{indexPath}: holds {scopes.Count} networks ({string.Join(", ", scopes.Select(s => s.Length == 0 ? "unscoped" : s.TrimEnd('/')))}): one stream per file is read");

        var read = bundle.ReadFloats(wanted.Select(w => w.Entry));
        var result = new List<KeyValuePair<string, Tensor>>();
        try
        {
            for (int i = 0; i < read.Count; i++)
            {
                var (entry, value) = read[i];
                string key = wanted[i].Key;
                using (value) result.Add(new(key, ToTorchLayout(value, key, indexPath, entry.Name)));
                if (key.EndsWith(".bn.bias", StringComparison.Ordinal))
                    result.Add(new(key[..^"bias".Length] + "weight", ones_like(result[^1].Value)));
            }
        }
        catch
        {
            foreach (var kv in result) kv.Value.Dispose();
            throw;
        }
        return result;
    }

    private static Tensor ToTorchLayout(Tensor value, string key, string path, string name)
    {
        if (key.EndsWith(".conv3d.weight", StringComparison.Ordinal))
        {
            if (value.dim() != 5) throw new WeightFileException($"{path}: '{name}' has shape [{string.Join(", ", value.shape)}], not a 3-D kernel (T, H, W, in, out)");
            return value.permute(4, 3, 0, 1, 2).contiguous();
        }
        // Biases and BatchNorm statistics: one value per channel, whatever the stored rank (1 x 1 x 1 x 1 x C or C).
        if (value.shape.Count(d => d != 1) > 1) throw new WeightFileException($"{path}: '{name}' has shape [{string.Join(", ", value.shape)}], not one value per channel");
        return value.reshape(value.numel()).clone();
    }
}
