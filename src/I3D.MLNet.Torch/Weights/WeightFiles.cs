using I3D.MLNet.Torch.Weights.TensorFlow;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Weights;

/// <summary>
/// The one place weight files are opened: a PyTorch state_dict (zip or legacy, <see cref="TorchStateDict"/>) or one of
/// DeepMind's kinetics-i3d TensorFlow checkpoints (the prefix <c>.../model.ckpt</c>, its <c>.index</c> file or its
/// folder), which comes back with pytorch-i3d's state_dict names and layout.
/// </summary>
public static class WeightFiles
{
    /// <summary>Every tensor of the file as (pytorch-i3d state_dict key, CPU tensor); the caller disposes them.</summary>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> Read(string path)
    {
        string? index = TensorBundle.Locate(path);
        return index is null ? TorchStateDict.Read(path) : KineticsI3dCheckpoint.Read(index);
    }

}
