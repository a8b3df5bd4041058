using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// The memory order of activations on the CPU. oneDNN's AMX convolutions (Intel Xeon 4th generation and later) work on
/// channels-last data (N, T, H, W, C in memory): given libtorch's (N, C, T, H, W) order, every convolution reorders its
/// input, output and gradients to and from that order. Where <see cref="ChannelsLast"/> holds, the input of a training
/// convolution, and of a reduced-precision (bfloat16, float16) one in scoring, is put in channels-last order once (the
/// clip, at the first layer) and the layers after it keep that order: convolutions, BatchNorm, ReLU, the pools and the
/// concatenations preserve it, and the guard puts it back after a call that does not (<see cref="Keep"/>). The values
/// are the same functions; the convolution check probes each shape in the order it is called in
/// (<see cref="Conv3dShape.ChannelsLast"/>). Measured on an Intel Xeon (family 6 model 207, AMX): training step
/// 2 x 3x16x112x112 float32 0.309 -> 0.277 s, mixed precision 0.190 -> 0.143 s; bfloat16 scoring of a 64x224x224 clip
/// 0.45 -> 0.23 s (benchmarks/RESULTS.md, "Channels-last"). float32 scoring keeps libtorch's order: no faster there.
/// </summary>
/// <remarks><c>I3D_CHANNELS_LAST=auto|on|off</c>, read at start: auto (the default) is on where the CPU has AMX
/// (<c>amx_bf16</c> in /proc/cpuinfo), the only kind where it was measured faster.</remarks>
internal static class ActivationLayout
{
    /// <summary>The environment variable that sets <see cref="ChannelsLast"/>: <c>auto</c>, <c>on</c> or <c>off</c>.</summary>
    public const string Variable = "I3D_CHANNELS_LAST";

    private static readonly Lazy<bool> fromEnvironment = new(FromEnvironment);
    private static bool? overridden;

    /// <summary>Whether CPU training and reduced-precision convolutions take channels-last input (default:
    /// <see cref="Variable"/>; tests set it).</summary>
    public static bool ChannelsLast
    {
        get => overridden ?? fromEnvironment.Value;
        internal set => overridden = value;
    }

    /// <summary>Whether a 5-D tensor (N, C, T, H, W) with more than one channel is laid out channels-last.</summary>
    public static bool IsChannelsLast(Tensor x)
    {
        if (x.dim() != 5 || x.shape[1] < 2) return false;
        long c = x.shape[1], w = x.shape[4], h = x.shape[3];
        return x.stride(1) == 1 && x.stride(4) == c && x.stride(3) == c * w && x.stride(2) == c * w * h;
    }

    /// <summary>A channels-last copy of (N, C, T, H, W), indexed as before.</summary>
    public static Tensor ToChannelsLast(Tensor x) => x.permute(0, 2, 3, 4, 1).contiguous().permute(0, 4, 1, 2, 3);

    /// <summary>The input a CPU convolution computes on: channels-last where <see cref="ChannelsLast"/> holds and the call
    /// trains (<paramref name="training"/>) or computes in a reduced-precision type.</summary>
    public static Tensor For(Tensor x, bool training) =>
        ChannelsLast && (training || x.dtype is ScalarType.BFloat16 or ScalarType.Float16)
        && x.device_type == TorchSharp.DeviceType.CPU && x.dim() == 5 && x.shape[1] > 1 && !IsChannelsLast(x)
            ? ToChannelsLast(x)
            : x;

    /// <summary><paramref name="y"/> in channels-last order when the call's input <paramref name="x"/> was.</summary>
    public static Tensor Keep(Tensor y, Tensor x) => IsChannelsLast(x) && y.dim() == 5 && y.shape[1] > 1 && !IsChannelsLast(y) ? ToChannelsLast(y) : y;

    private static bool FromEnvironment()
    {
        string? value = Environment.GetEnvironmentVariable(Variable);
        return string.IsNullOrWhiteSpace(value) ? MachineIdentity.HasAmx : value.Trim().ToLowerInvariant() switch
        {
            "auto" => MachineIdentity.HasAmx,
            "on" => true,
            "off" => false,
            _ => throw new InvalidOperationException($"{Variable}='{value}': expected auto, on or off"),
        };
    }
}
