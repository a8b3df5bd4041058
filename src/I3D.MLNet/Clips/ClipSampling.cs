using I3D.MLNet.Video;
using Microsoft.ML.Data;

namespace I3D.MLNet.Clips;

/// <summary>
/// The clip sampling of the paper (section 3, "Implementation details") as a pure function of the options, the video,
/// the row id and the epoch: what <c>SampleClips</c> writes, and what the I3D trainer draws each epoch from the frames.
/// </summary>
internal static class ClipSampling
{
    /// <summary>Samples the clips of one video into <paramref name="output"/> (resized as needed).</summary>
    /// <param name="options">Clip size, count, mode-independent choices (seed, flip probability).</param>
    /// <param name="frames">The decoded RGB or flow frames.</param>
    /// <param name="row">The row's id (stable under shuffling): with the seed and epoch, it decides the random choices.</param>
    /// <param name="training">The training protocol (random start, crop and flip) instead of the test protocol.</param>
    /// <param name="epoch">Which pass over the data the training choices are for (each draws anew).</param>
    /// <param name="output">N x C x T x H x W values.</param>
    public static void Sample(ClipSamplerOptions options, VideoFrames frames, DataViewRowId row, bool training, int epoch, ref VBuffer<float> output)
    {
        var random = new Random(SeedFor(options.Seed, row, epoch));
        var plan = ClipPlan.Make(options, frames.FrameCount, frames.Height, frames.Width, random, frames.Source, training);
        int length = plan.FrameIndices[0].Length;
        int size = checked(plan.FrameIndices.Length * frames.Channels * length * options.CropSize * options.CropSize);
        var editor = VBufferEditor.Create(ref output, size);
        plan.Write(frames, options.CropSize, editor.Values);
        output = editor.Commit();
    }

    private static int SeedFor(int seed, DataViewRowId row, int epoch)
    {
        ulong x = SplitMix((ulong)(uint)seed ^ SplitMix(row.Low ^ SplitMix(row.High ^ SplitMix((ulong)(uint)epoch))));
        return (int)(x & 0x7FFFFFFF);
    }

    private static ulong SplitMix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
