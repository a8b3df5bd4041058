using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inflation;

/// <summary>
/// Bootstraps <see cref="InceptionI3d"/> from a torchvision GoogLeNet (Inception-v1) state_dict, as the paper
/// bootstraps I3D from ImageNet Inception-v1 (section 2.4, "Bootstrapping 3D filters from 2D Filters"): every 2-D filter inflated, BatchNorm copied (torchvision's
/// BasicConv2d uses eps 0.001 like I3D). torchvision's conv1/conv2/conv3 are Conv3d_1a_7x7/2b_1x1/2c_3x3 and its
/// inception3a..5b are Mixed_3b..5c with branch1, branch2.0/.1, branch3.0/.1, branch4.1 = b0, b1a/b1b, b2a/b2b, b3b.
/// The 1000-way <c>fc</c> becomes the logits layer when <c>numClasses</c> is 1000; otherwise the logits layer keeps
/// its fresh initialization (to be fine-tuned). The auxiliary classifiers are ignored. torchvision's GoogLeNet takes
/// ImageNet-normalized input, not I3D's [-1, 1].
/// </summary>
public static class GoogLeNetInflation
{
    private static readonly Dictionary<string, string> Stems = new()
    {
        ["conv1"] = "Conv3d_1a_7x7", ["conv2"] = "Conv3d_2b_1x1", ["conv3"] = "Conv3d_2c_3x3",
    };

    private static readonly Dictionary<string, string> Blocks = new()
    {
        ["inception3a"] = "Mixed_3b", ["inception3b"] = "Mixed_3c", ["inception4a"] = "Mixed_4b",
        ["inception4b"] = "Mixed_4c", ["inception4c"] = "Mixed_4d", ["inception4d"] = "Mixed_4e",
        ["inception4e"] = "Mixed_4f", ["inception5a"] = "Mixed_5b", ["inception5b"] = "Mixed_5c",
    };

    private static readonly Dictionary<string, string> Branches = new()
    {
        ["branch1"] = "b0", ["branch2.0"] = "b1a", ["branch2.1"] = "b1b", ["branch3.0"] = "b2a", ["branch3.1"] = "b2b", ["branch4.1"] = "b3b",
    };

    /// <summary>The InceptionI3d key for a torchvision GoogLeNet key; null for keys with no counterpart (aux classifiers).</summary>
    public static string? MapKey(string key)
    {
        var p = key.Split('.');
        if (p[0] is "aux1" or "aux2") return null;
        if (p[0] == "fc" && p.Length == 2) return "logits.conv3d." + p[1];
        string? prefix = null, rest = null;
        if (Stems.TryGetValue(p[0], out var stem)) { prefix = stem; rest = string.Join('.', p[1..]); }
        else if (Blocks.TryGetValue(p[0], out var block) && p.Length > 2)
        {
            bool nested = p[1] is "branch2" or "branch3" or "branch4";
            string branch = nested ? p[1] + "." + p[2] : p[1];
            if (Branches.TryGetValue(branch, out var b)) { prefix = block + "." + b; rest = string.Join('.', p[(nested ? 3 : 2)..]); }
        }
        if (prefix is null || rest is null || !rest.StartsWith("conv.", StringComparison.Ordinal) && !rest.StartsWith("bn.", StringComparison.Ordinal))
            throw new WeightFileException($"'{key}' is not a torchvision GoogLeNet key");
        return prefix + "." + (rest.StartsWith("conv.", StringComparison.Ordinal) ? "conv3d." + rest[5..] : rest);
    }

    /// <summary>An InceptionI3d inflated from the torchvision GoogLeNet state_dict at <paramref name="path"/> (eval mode), with a 1000-way classifier from <c>fc</c> when <paramref name="numClasses"/> is 1000, a fresh one otherwise.</summary>
    public static InceptionI3d FromStateDict(string path, int numClasses = 1000)
    {
        var weights = TorchStateDict.Read(path);
        var net = new InceptionI3d(numClasses, 3);
        try
        {
            var targets = net.state_dict();
            var filled = new HashSet<string>();
            using (no_grad())
                foreach (var (key, value) in weights)
                {
                    string? name;
                    try { name = MapKey(key); }
                    catch (WeightFileException e) { throw new WeightFileException($"{path}: {e.Message}"); }
                    if (name is null || (name.StartsWith("logits.", StringComparison.Ordinal) && numClasses != 1000)) continue;
                    if (!targets.TryGetValue(name, out var target)) throw new WeightFileException($"{path}: '{key}' maps to '{name}', which InceptionI3d lacks");
                    if (value.dim() == 4) Inflate.Into(target, value, $"{path}: {key}");
                    else if (name == "logits.conv3d.weight") target.copy_(value.reshape(target.shape));
                    else if (value.shape.SequenceEqual(target.shape)) target.copy_(value);
                    else throw new WeightFileException($"{path}: '{key}' has shape ({string.Join(", ", value.shape)}), '{name}' needs ({string.Join(", ", target.shape)})");
                    filled.Add(name);
                }
            var missing = targets.Keys.Where(k => !filled.Contains(k) && !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)
                && !(k.StartsWith("logits.", StringComparison.Ordinal) && numClasses != 1000)).ToList();
            if (missing.Count > 0)
                throw new WeightFileException($"{path}: not a complete torchvision GoogLeNet: {missing.Count} InceptionI3d weights have no source ({string.Join(", ", missing.Take(8))})");
            net.eval();
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
        finally { foreach (var kv in weights) kv.Value.Dispose(); }
    }
}
