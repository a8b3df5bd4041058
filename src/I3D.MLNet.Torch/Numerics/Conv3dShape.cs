using System.Globalization;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// What decides which kernel a library picks for a 3-D convolution, apart from the batch and spatial size: channels
/// in and out, kernel, stride, padding, whether it has a bias, the element type, and the input's length in time
/// (<see cref="Frames"/>: on AMD Zen 5, libtorch 2.10's bfloat16 weight gradient of a 3x3x3 convolution is wrong on 2
/// frames and right on 1 and 3 to 8, at every height, width, batch and channel count measured). One key per shape a
/// network actually calls (see <see cref="Conv3dGuard"/>).
/// </summary>
internal readonly record struct Conv3dShape(long In, long Out, (long T, long H, long W) Kernel, (long T, long H, long W) Stride,
    (long T, long H, long W) Padding, bool Bias, string DType, long Frames, bool ChannelsLast = false)
{
    /// <summary>The shape of convolving <paramref name="x"/> (N, C, T, H, W) by <paramref name="weight"/>.</summary>
    public static Conv3dShape Of(TorchSharp.torch.Tensor x, TorchSharp.torch.Tensor weight, TorchSharp.torch.Tensor? bias, long[] stride, long[] padding) =>
        new(weight.shape[1], weight.shape[0], (weight.shape[2], weight.shape[3], weight.shape[4]),
            (stride[0], stride[1], stride[2]), (padding[0], padding[1], padding[2]), bias is not null, weight.dtype.ToString(), x.shape[2],
            ActivationLayout.IsChannelsLast(x));

    public long[] KernelArray => [Kernel.T, Kernel.H, Kernel.W];
    public long[] StrideArray => [Stride.T, Stride.H, Stride.W];
    public long[] PaddingArray => [Padding.T, Padding.H, Padding.W];

    /// <summary>One word, used as the key in the probe's cache file: <c>24-64:k3x3x3:s1x1x1:p1x1x1:nobias:Float32:t8</c>
    /// (<c>...:Float32:cl:t8</c> for channels-last input, which other kernels compute).</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture,
        $"{In}-{Out}:k{Kernel.T}x{Kernel.H}x{Kernel.W}:s{Stride.T}x{Stride.H}x{Stride.W}:p{Padding.T}x{Padding.H}x{Padding.W}:{(Bias ? "bias" : "nobias")}:{DType}{(ChannelsLast ? ":cl" : "")}:t{Frames}");

    /// <summary>For people: <c>24-&gt;64 channels, 3x3x3 kernel, stride 1x1x1</c>.</summary>
    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"{In}->{Out} channels, {Kernel.T}x{Kernel.H}x{Kernel.W} kernel, stride {Stride.T}x{Stride.H}x{Stride.W}, padding {Padding.T}x{Padding.H}x{Padding.W}, {Frames} frames{(DType == nameof(TorchSharp.torch.ScalarType.Float32) ? "" : $", {DType}")}{(ChannelsLast ? ", channels-last" : "")}");
}
