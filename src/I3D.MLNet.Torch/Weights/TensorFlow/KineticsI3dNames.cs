namespace I3D.MLNet.Torch.Weights.TensorFlow;

/// <summary>
/// The variable names of DeepMind's kinetics-i3d checkpoints (Sonnet's <c>i3d.py</c>) against pytorch-i3d's
/// state_dict names, which <see cref="Models.InceptionI3d"/> uses. One convolution unit is
/// <c>[SCOPE/inception_i3d/]&lt;Endpoint&gt;[/Branch_k/&lt;Conv&gt;]/{conv_3d/w, batch_norm/{beta, moving_mean,
/// moving_variance}}</c> (no gamma: BatchNorm scale 1); the classifier is <c>Logits/Conv3d_0c_1x1/conv_3d/{w, b}</c>.
/// </summary>
internal static class KineticsI3dNames
{
    private static readonly string[] Stem = ["Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"];
    private static readonly string[] Mixed = ["Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "Mixed_5b", "Mixed_5c"];

    /// <summary>Parameter suffixes: TensorFlow's under a unit, pytorch-i3d's under the same unit.</summary>
    internal static readonly (string Tf, string Torch)[] Parameters =
    [
        ("conv_3d/w", "conv3d.weight"), ("conv_3d/b", "conv3d.bias"),
        ("batch_norm/beta", "bn.bias"), ("batch_norm/moving_mean", "bn.running_mean"), ("batch_norm/moving_variance", "bn.running_var"),
    ];

    /// <summary>Last name components of optimizer state and counters, saved beside the weights and not part of the network.</summary>
    private static readonly HashSet<string> Bookkeeping = ["Momentum", "ExponentialMovingAverage", "Adam", "Adam_1", "RMSProp", "RMSProp_1", "global_step", "beta1_power", "beta2_power"];

    /// <summary>Every convolution unit: (TensorFlow scope within inception_i3d, pytorch-i3d module path).</summary>
    internal static IEnumerable<(string Tf, string Torch)> Units()
    {
        foreach (var s in Stem) yield return (s, s);
        foreach (var m in Mixed)
        {
            yield return ($"{m}/Branch_0/Conv3d_0a_1x1", $"{m}.b0");
            yield return ($"{m}/Branch_1/Conv3d_0a_1x1", $"{m}.b1a");
            yield return ($"{m}/Branch_1/Conv3d_0b_3x3", $"{m}.b1b");
            yield return ($"{m}/Branch_2/Conv3d_0a_1x1", $"{m}.b2a");
            // i3d.py names this one 0a in Mixed_5b only (a typo kept by every released checkpoint).
            yield return ($"{m}/Branch_2/Conv3d_0{(m == "Mixed_5b" ? "a" : "b")}_3x3", $"{m}.b2b");
            yield return ($"{m}/Branch_3/Conv3d_0b_1x1", $"{m}.b3b");
        }
        yield return ("Logits/Conv3d_0c_1x1", "logits");
    }

    private static readonly Dictionary<string, string> TfToTorch =
        Units().SelectMany(u => Parameters.Select(p => ($"{u.Tf}/{p.Tf}", $"{u.Torch}.{p.Torch}"))).ToDictionary(x => x.Item1, x => x.Item2);

    /// <summary>True for optimizer slots (<c>.../w/Momentum</c>) and counters (<c>global_step</c>).</summary>
    public static bool IsBookkeeping(string name) => Bookkeeping.Contains(name[(name.LastIndexOf('/') + 1)..]);

    /// <summary>
    /// The pytorch-i3d key of a variable and the scope before <c>inception_i3d/</c> (<c>RGB/</c>, <c>Flow/</c>; empty
    /// in the Kinetics-600 file, which has no prefix); null when it is not an I3D variable.
    /// </summary>
    public static (string Key, string Scope)? ToTorch(string name)
    {
        const string network = "inception_i3d/";
        int at = name.IndexOf(network, StringComparison.Ordinal);
        string scope = at < 0 ? "" : name[..(at + network.Length)];
        return TfToTorch.TryGetValue(name[scope.Length..], out var key) ? (key, scope) : null;
    }
}
