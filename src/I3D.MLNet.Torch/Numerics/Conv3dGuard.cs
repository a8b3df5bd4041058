using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// The one place the networks call a 3-D convolution (see <see cref="ConvolutionCheck"/>): picks the route for the
/// shape on this device, probing it the first time, and computes it.
/// </summary>
internal static class Conv3dGuard
{
    /// <summary>What the probe decided for one shape on one device, and what the direct call's error was.</summary>
    internal readonly record struct Verdict(Conv3dRoute Route, double DirectError, string Where);

    private static readonly object Gate = new();
    private static readonly Dictionary<string, Verdict> Verdicts = [];
    private static readonly HashSet<string> Logged = [];
    private static Conv3dProbeCache? cache;

    [ThreadStatic] private static Dictionary<string, string>? recorder;

    /// <summary>The convolution of <paramref name="x"/> by <paramref name="weight"/> as <c>conv3d</c> computes it when right.</summary>
    /// <param name="layer">The layer's module path (<c>Mixed_4c.b2b</c>), named in the notice.</param>
    /// <param name="x">Input (N, C, T, H, W).</param>
    /// <param name="weight">Filters (O, C, kT, kH, kW).</param>
    /// <param name="bias">Bias (O) or null.</param>
    /// <param name="stride">Stride (T, H, W).</param>
    /// <param name="padding">Symmetric zero padding (T, H, W).</param>
    public static Tensor Conv3d(string layer, Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding)
    {
        // Mixed precision: a float32 input or weight is rounded to the scope's type, once (the call below has none left).
        if (MixedPrecision.ComputeType is not null && (x.dtype == ScalarType.Float32 || weight.dtype == ScalarType.Float32))
        {
            using var scope = NewDisposeScope();
            return Conv3d(layer, MixedPrecision.Round(x), MixedPrecision.Round(weight), bias is null ? null : MixedPrecision.Round(bias), stride, padding)
                .MoveToOuterDisposeScope();
        }
        var mode = ConvolutionCheck.Mode;
        bool training = is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias?.requires_grad == true);
        x = ActivationLayout.For(x, training); // channels-last where oneDNN computes in that order
        // Scoring needs the forward kernel right, training its gradients too: separate verdicts, since a kernel whose
        // weight gradient alone is wrong still scores right (on AMD Zen 5 most wrong shapes are such), and a first layer
        // needs no input gradient (on Zen 5 the bfloat16 one of Conv3d_1a is wrong, its weight gradient right).
        var use = !training ? Conv3dUse.Score : x.requires_grad ? Conv3dUse.Train : Conv3dUse.TrainWeights;
        var route = mode == ConvolutionCheckMode.Off || !Checked(x.dtype)
            ? Conv3dRoute.Direct
            : RouteFor(layer, Conv3dShape.Of(x, weight, bias, stride, padding), x.dtype, x.device, mode, use);
        if (recorder is not null) recorder[layer] = route.ToString();
        // With the check off, libtorch's call as it is: one small clip's halves are a batch of two, which only a verdict
        // clears (on AMD Zen 5, 24 channels are wrong at batch 2 and right at batch 1).
        var y = mode == ConvolutionCheckMode.Off
            ? F.conv3d(x, weight, bias, strides: stride, padding: padding)
            : Conv3dRoutes.Apply(route, x, weight, bias, stride, padding);
        // The layers after keep the input's layout, whatever computed the call: a workaround route may hand back another
        // (a slice of padded channels), and so does libtorch's own 1x1x1 path that it takes instead of oneDNN at 1 thread.
        y = ActivationLayout.Keep(y, x);
        if (multiplyAdds is not null) multiplyAdds[0] += y.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3] * weight.shape[4];
        return y;
    }

    [ThreadStatic] private static long[]? multiplyAdds;

    /// <summary>Counts the multiply-adds of the convolutions called on this thread until disposed, into
    /// <paramref name="total"/>[0] (benchmarks: a network's arithmetic for a given input, to set against the CPU's peak).</summary>
    internal static IDisposable CountMultiplyAdds(long[] total)
    {
        var previous = multiplyAdds;
        multiplyAdds = total;
        return new Restore(() => multiplyAdds = previous);
    }

    /// <summary>Collects the route of every layer called on this thread until disposed (<see cref="ConvolutionCheck.Probe"/>).</summary>
    internal static IDisposable Record(Dictionary<string, string> into)
    {
        var previous = recorder;
        recorder = into;
        return new Restore(() => recorder = previous);
    }

    /// <summary>float64 is the reference itself; the types below it are checked.</summary>
    private static bool Checked(ScalarType type) => type is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16;

    /// <summary>A verdict's key: the device, libtorch's thread count (kernels differ with it), what the call needs
    /// (<see cref="Conv3dUses.Word"/>) and the shape.</summary>
    internal static string EntryKey(Conv3dShape shape, Device device, Conv3dUse use) => $"{device}|{get_num_threads()}|{use.Word()}|{shape.Key}";

    private static Conv3dRoute RouteFor(string layer, Conv3dShape shape, ScalarType dtype, Device device, ConvolutionCheckMode mode, Conv3dUse use)
    {
        string entry = EntryKey(shape, device, use);
        Verdict verdict;
        lock (Gate)
        {
            string memoryKey = $"{mode}|{entry}";
            if (!Verdicts.TryGetValue(memoryKey, out verdict))
            {
                if (mode == ConvolutionCheckMode.Force) verdict = Decide(shape, dtype, device, forced: true, use);
                else
                {
                    if (cache is null || cache.Directory != ConvolutionCheck.CacheDirectory)
                        cache = Conv3dProbeCache.Open(ConvolutionCheck.CacheDirectory, MachineIdentity.Key);
                    if (!cache.TryGet(entry, out verdict))
                    {
                        verdict = Decide(shape, dtype, device, forced: false, use);
                        cache.Add(entry, verdict);
                    }
                }
                Verdicts[memoryKey] = verdict;
            }
            if (verdict.Route != Conv3dRoute.Direct && Logged.Add($"{mode}|{layer}|{entry}"))
                ConvolutionCheck.Log(Notice(layer, shape, device, verdict, mode));
        }
        return verdict.Route;
    }

    /// <summary>Forgets the verdicts and notices of this process (tests: the next call reads the cache again).</summary>
    internal static void Reset()
    {
        lock (Gate)
        {
            Verdicts.Clear();
            Logged.Clear();
            cache = null;
        }
    }

    /// <summary>Probes the shape and picks the first route that measures right: the direct call unless
    /// <paramref name="forced"/>, then the workarounds in order of cost (float64, the last, always is), each measured on
    /// what <paramref name="use"/> needs.</summary>
    internal static Verdict Decide(Conv3dShape shape, ScalarType dtype, Device device, bool forced, Conv3dUse use = Conv3dUse.Train)
    {
        using var scope = NewDisposeScope();
        using var probe = new Conv3dProbe(shape, dtype, device);
        double tolerance = Conv3dProbe.Tolerance(dtype);
        var (direct, where) = probe.Error(Conv3dRoute.Direct, use);
        if (!forced && direct <= tolerance) return new Verdict(Conv3dRoute.Direct, direct, where);
        foreach (var route in Conv3dRoutes.Workarounds(shape))
            if (route == Conv3dRoute.Float64 || probe.Error(route, use).Error <= tolerance) return new Verdict(route, direct, where);
        throw new InvalidOperationException("unreachable: float64 is always a route");
    }

    private static string Notice(string layer, Conv3dShape shape, Device device, Verdict verdict, ConvolutionCheckMode mode)
    {
        string how = Conv3dRoutes.Describe(verdict.Route, shape);
        string where = $"{MachineIdentity.Cpu}, libtorch {MachineIdentity.Libtorch}, {get_num_threads()} threads, {device}";
        return mode == ConvolutionCheckMode.Force
            ? $"I3D.MLNet: conv3d {layer} ({shape.Description}) uses {how}, forced by {ConvolutionCheck.ModeVariable}=force ({where})"
            : $"I3D.MLNet: conv3d {layer} ({shape.Description}) computes wrong numbers on {where}: {(double.IsFinite(verdict.DirectError) ? $"relative error {verdict.DirectError:0.0e+0}" : "NaN or infinite values")} vs float64 ({verdict.Where}); using {how} ({ConvolutionCheck.ModeVariable}=off turns the check off)";
    }
}
