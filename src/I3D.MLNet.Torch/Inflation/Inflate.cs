using I3D.MLNet.Torch.Numerics;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inflation;

/// <summary>
/// Section 2.4 of the paper, "Bootstrapping 3D filters from 2D Filters": an N x N filter becomes an T x N x N filter
/// by repeating it T times along time and dividing by T, so that a "boring" video (one image repeated) gives the same
/// responses as the 2-D network on that image.
/// </summary>
public static class Inflate
{
    /// <summary>(out, in, kh, kw) -> (out, in, T, kh, kw), each time slice = the 2-D filter / T.</summary>
    public static Tensor Filter(Tensor filter2d, long time)
    {
        if (filter2d.dim() != 4) throw new ArgumentException($"expected a 2-D convolution filter (out, in, kh, kw), got shape ({string.Join(", ", filter2d.shape)})");
        if (time < 1) throw new ArgumentOutOfRangeException(nameof(time));
        using var expanded = filter2d.unsqueeze(2).expand(-1, -1, time, -1, -1);
        using var divided = expanded.DividedBy(time);
        return divided.contiguous();
    }

    /// <summary>Copies a 2-D filter into a 3-D one of the target's temporal size (under no_grad).</summary>
    public static void Into(Tensor target3d, Tensor filter2d, string name)
    {
        if (target3d.dim() != 5 || !target3d.shape.Where((_, i) => i != 2).SequenceEqual(filter2d.shape))
            throw new ArgumentException($"{name}: a 2-D filter of shape ({string.Join(", ", filter2d.shape)}) cannot be inflated to ({string.Join(", ", target3d.shape)})");
        using var _ = no_grad();
        using var inflated = Filter(filter2d, target3d.shape[2]);
        target3d.copy_(inflated);
    }
}
