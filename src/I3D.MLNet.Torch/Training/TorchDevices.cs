using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Training;

/// <summary>Picks the torch device: CUDA when asked for or (auto) when TorchSharp sees one, else CPU.</summary>
internal static class TorchDevices
{
    public static Device Resolve(string device) => device switch
    {
        "cpu" => CPU,
        "cuda" => cuda.is_available() ? CUDA : throw new InvalidOperationException("--device cuda: TorchSharp sees no CUDA device (install a CUDA build of TorchSharp and a GPU driver)"),
        _ => cuda.is_available() ? CUDA : CPU,
    };
}
