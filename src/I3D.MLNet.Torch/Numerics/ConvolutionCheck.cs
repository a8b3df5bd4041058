namespace I3D.MLNet.Torch.Numerics;

/// <summary>What <see cref="ConvolutionCheck"/> does before a 3-D convolution shape is first computed.</summary>
public enum ConvolutionCheckMode
{
    /// <summary>Probe each shape once per machine against float64 and route around a wrong kernel (the default).</summary>
    Auto,

    /// <summary>No probe: every convolution is libtorch's own call, as it is.</summary>
    Off,

    /// <summary>Every convolution takes a workaround route (verified by the probe), wrong kernel or not: shows the
    /// workaround path on a CPU without the bug. Its verdicts are not written to the cache.</summary>
    Force,
}

/// <summary>
/// Checks the numbers of libtorch's 3-D convolutions on this machine. Some kernels are wrong on some CPUs: libtorch
/// 2.10's oneDNN float32 <c>conv3d</c> with 24 or 40 input channels and a batch of 2 or more is off by ~15% (or NaN) on
/// AMD Zen 5 (AVX-512 without AMX), and right on Intel. Every convolution of the networks in this library (InceptionI3d,
/// ResNet3d18) goes through one guard: the first time a shape is called on a device, it is computed once in its own type
/// (float32, or bfloat16 in reduced-precision scoring and mixed-precision training) and in float64 (batch 1 and 2, the
/// call's length in time, a tiny spatial size: the forward result for a call that needs no gradient, as in scoring, and
/// the gradients it needs too for one that trains; each has its own verdict); if the type's kernel is wrong, the
/// cheapest route that measures right is used from then on (zero-padded channels, one clip at a time, float32 for a
/// reduced-precision type, or float64), and one line names the layer and the CPU. Verdicts are cached per CPU model and library version in <see cref="CacheDirectory"/>, so
/// the probe runs once per machine (a corrupt or foreign cache file is ignored and rewritten).
/// </summary>
/// <remarks>
/// Settings of the process, read from the environment at start: <c>I3D_CONV3D_CHECK=auto|off|force</c> and
/// <c>I3D_CACHE_DIR</c> (default <c>$XDG_CACHE_HOME/i3d-mlnet</c>, else <c>~/.cache/i3d-mlnet</c>).
/// </remarks>
public static class ConvolutionCheck
{
    /// <summary>The environment variable that sets <see cref="Mode"/>: <c>auto</c>, <c>off</c> or <c>force</c>.</summary>
    public const string ModeVariable = "I3D_CONV3D_CHECK";

    /// <summary>The environment variable that sets <see cref="CacheDirectory"/>.</summary>
    public const string CacheVariable = "I3D_CACHE_DIR";

    private static ConvolutionCheckMode? mode;

    /// <summary>What happens before a convolution shape is first computed (default: <see cref="ModeVariable"/>, else Auto).</summary>
    public static ConvolutionCheckMode Mode
    {
        get => mode ??= ModeFromEnvironment();
        set => mode = value;
    }

    /// <summary>Where probe verdicts are cached; <c>null</c> keeps them in memory only.</summary>
    public static string? CacheDirectory { get; set; } = DefaultCacheDirectory();

    /// <summary>Where the one-line notices go (once per layer and process); standard error by default.</summary>
    public static Action<string> Log { get; set; } = line => Console.Error.WriteLine(line);

    /// <summary>
    /// Probes every convolution of <paramref name="network"/> for scoring an input of <paramref name="inputShape"/>
    /// (N, C, T, H, W; the forward alone, no gradients) now rather than at its first forward pass, and returns each
    /// layer's route (for tests and diagnostics).
    /// </summary>
    public static IReadOnlyDictionary<string, string> Probe(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> network, long[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(network);
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var _ = TorchSharp.torch.no_grad();
        var device = network.parameters().First().device;
        var type = network.parameters().First().dtype;
        var x = TorchSharp.torch.zeros(inputShape, type, device);
        var seen = new Dictionary<string, string>();
        using (Conv3dGuard.Record(seen)) network.forward(x);
        return seen;
    }

    private static ConvolutionCheckMode ModeFromEnvironment()
    {
        string? value = Environment.GetEnvironmentVariable(ModeVariable);
        if (string.IsNullOrWhiteSpace(value)) return ConvolutionCheckMode.Auto;
        return value.Trim().ToLowerInvariant() switch
        {
            "auto" => ConvolutionCheckMode.Auto,
            "off" => ConvolutionCheckMode.Off,
            "force" => ConvolutionCheckMode.Force,
            _ => throw new InvalidOperationException($"{ModeVariable}='{value}': expected auto, off or force"),
        };
    }

    /// <summary>The project's cache folder from the environment (also where TorchNatives keeps its patched wrapper).</summary>
    internal static string? DefaultCacheDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrWhiteSpace(explicitDir)) return explicitDir;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg)) return Path.Combine(xdg, "i3d-mlnet");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache", "i3d-mlnet");
    }
}
