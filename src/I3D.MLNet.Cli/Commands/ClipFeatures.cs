using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Training;
using static TorchSharp.torch;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// The pooled features of a model's RGB stream for <c>i3d extract --what features</c>: the one place they are computed
/// (so that it can become the <c>ExtractI3DFeatures</c> transformer's call when that exists).
/// </summary>
internal static class ClipFeatures
{
    /// <summary>
    /// <see cref="InceptionI3d.Features"/> (the average pool after Mixed_5c, averaged over time: 1024 values) of the RGB
    /// stream of <paramref name="model"/> for one clip (1 x 3 x T x H x W, in [-1, 1]).
    /// </summary>
    internal static float[] Pooled(I3DPredictionTransformer model, float[] clip, long[] shape)
    {
        var network = model.StreamNetworks.FirstOrDefault(s => s.Stream == VideoStream.Rgb)
            ?? throw new ArgumentException($"--what features: the model has no RGB stream (it has {string.Join(", ", model.Streams.Select(s => s.Name()))})");
        if (network.Module is not InceptionI3d i3d)
            throw new ArgumentException($"--what features: the model's RGB stream is a {network.Backbone.CliName}, not an I3D (train with --architecture i3d)");
        lock (network)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var device = i3d.parameters().First().device;
            return i3d.Features(tensor(clip, shape).to(device)).cpu().data<float>().ToArray();
        }
    }
}
