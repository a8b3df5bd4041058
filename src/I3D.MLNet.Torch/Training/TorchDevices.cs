using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Training;

/// <summary>Picks the torch device: CUDA when asked for or (auto) when TorchSharp sees one, else CPU.</summary>
internal static class TorchDevices
{
    /// <summary>The device names options take.</summary>
    public static readonly string[] Names = ["auto", "cpu", "cuda"];

    /// <summary>Refuses a name that is not one of <see cref="Names"/>.</summary>
    public static void Check(string device)
    {
        if (!Names.Contains(device)) throw new ArgumentException($"device '{device}': use {string.Join(", ", Names)}");
    }

    public static Device Resolve(string device)
    {
        Check(device);
        Natives.TorchNatives.Ensure();
        return device switch
        {
            "cpu" => CPU,
            "cuda" => cuda.is_available() ? CUDA : throw new InvalidOperationException("--device cuda: TorchSharp sees no CUDA device (install a CUDA build of TorchSharp and a GPU driver)"),
            _ => cuda.is_available() ? CUDA : CPU,
        };
    }
}
