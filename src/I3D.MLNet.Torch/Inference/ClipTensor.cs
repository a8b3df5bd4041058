using I3D.MLNet.Clips;
using I3D.MLNet.IO;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inference;

/// <summary>Clips in deepmind/kinetics-i3d's layout (N, T, H, W, C), float32 in [-1, 1], as network input (N, C, T, H, W).</summary>
internal static class ClipTensor
{
    /// <summary>
    /// Converts an (N, T, H, W, C) or (T, H, W, C) array (N clips of one video, e.g. K evenly spaced test clips). NaN or infinite values are refused; values outside [-1, 1]
    /// (beyond a 1e-3 rounding margin) are refused too, since they mean another scaling than the networks were trained on.
    /// </summary>
    public static Tensor FromKineticsLayout(NpyArray clip, string source)
    {
        var (data, shape) = ToChannelsFirst(clip, source);
        return tensor(data, shape);
    }

    /// <summary>The checks of <see cref="FromKineticsLayout"/>, then the values as (N, C, T, H, W) without TorchSharp.</summary>
    public static (float[] Data, long[] Shape) ToChannelsFirst(NpyArray clip, string source)
    {
        int[] s = clip.Shape;
        if (s.Length == 4) s = [1, .. s];
        if (s.Length != 5 || s[0] < 1 || s[1] < 1 || s[2] < 1 || s[3] < 1 || s[4] < 1)
            throw new ArgumentException($"{source}: expected a clip of shape (N, T, H, W, C), got ({string.Join(", ", clip.Shape)})");
        Validate(clip.Data, source);
        var data = ClipLayout.ToChannelsFirst(clip.Data, s[0], s[1], s[2], s[3], s[4]);
        return (data, [s[0], s[4], s[1], s[2], s[3]]);
    }

    /// <summary>Throws for NaN, infinities and values outside [-1, 1].</summary>
    public static void Validate(ReadOnlySpan<float> data, string source)
    {
        const float margin = 1e-3f;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        for (int i = 0; i < data.Length; i++)
        {
            float v = data[i];
            if (!float.IsFinite(v)) throw new ArgumentException($"{source}: value {i} is {v}: clips must be finite");
            if (v < min) min = v;
            if (v > max) max = v;
        }
        if (min < -1 - margin || max > 1 + margin)
            throw new ArgumentException($"{source}: values range over [{min}, {max}]; I3D takes [-1, 1] (RGB: pixel / 127.5 - 1; flow: clipped to [-20, 20] and divided by 20)");
    }
}
