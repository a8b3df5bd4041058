using System.CommandLine;
using I3D.MLNet.Clips;
using I3D.MLNet.IO;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>i3d clips VIDEO --out clip.npy</c>: decode, sample one clip with LoadVideo -> SampleClips, and write it in
/// kinetics-i3d's sample layout, float32 (1, T, S, S, 3) in [-1, 1].
/// </summary>
internal static class ClipsCommand
{
    public static Command Create()
    {
        var video = new Argument<string>("video") { Description = "A video file" };
        var output = new Option<string>("--out") { Description = "Output .npy file", Required = true };
        var frames = new Option<int>("--frames") { Description = "Frames per clip (T)", DefaultValueFactory = _ => 64 };
        var size = new Option<int>("--size") { Description = "Crop size (S)", DefaultValueFactory = _ => 224 };
        var shorterSide = new Option<int?>("--shorter-side") { Description = "Resize the shorter side to this first (default: size x 256/224, the paper's 256 for 224)" };
        var fps = new Option<double>("--fps") { Description = "Frame rate to resample to", DefaultValueFactory = _ => 25 };
        var mode = new Option<ClipSamplingMode>("--mode") { Description = "test: centre crop of the centred clip; train: random start, crop and flip", DefaultValueFactory = _ => ClipSamplingMode.Test };
        var seed = new Option<int>("--seed") { Description = "Seed for --mode train", DefaultValueFactory = _ => 0 };
        var command = new Command("clips", "Sample a clip from a video into a .npy file (1, T, S, S, 3) in [-1, 1]") { video, output, frames, size, shorterSide, fps, mode, seed };
        command.SetAction(parse => CliRunner.Run(() =>
        {
            int s = parse.GetValue(size);
            var decode = new VideoDecodeOptions { FrameRate = parse.GetValue(fps), ShorterSide = parse.GetValue(shorterSide) ?? DefaultShorterSide(s) };
            var sampling = new ClipSamplerOptions { Mode = parse.GetValue(mode), Frames = parse.GetValue(frames), CropSize = s, Seed = parse.GetValue(seed) };
            var clip = SampleOne(parse.GetValue(video)!, decode, sampling);
            var channelsLast = ClipLayout.ToChannelsLast(clip, 1, 3, sampling.Frames, s, s);
            Npy.Write(parse.GetValue(output)!, channelsLast, 1, sampling.Frames, s, s, 3);
            return 0;
        }));
        return command;
    }

    /// <summary>The paper resizes to 256 and crops 224; other crop sizes keep that ratio.</summary>
    public static int DefaultShorterSide(int cropSize) => (int)Math.Round(cropSize * 256.0 / 224.0);

    /// <summary>Runs LoadVideo -> SampleClips on one file and returns the clip (C T H W).</summary>
    public static float[] SampleOne(string path, VideoDecodeOptions decode, ClipSamplerOptions sampling)
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable([new PathRow { Path = path }]);
        var pipeline = ml.Transforms.LoadVideo("Frames", nameof(PathRow.Path), new VideoLoaderOptions { Decode = decode })
            .Append(ml.Transforms.SampleClips("Clip", "Frames", sampling));
        var transformed = pipeline.Fit(data).Transform(data);
        using var cursor = transformed.GetRowCursor([transformed.Schema["Clip"]]);
        var getter = cursor.GetGetter<VBuffer<float>>(transformed.Schema["Clip"]);
        cursor.MoveNext();
        var clip = default(VBuffer<float>);
        getter(ref clip);
        return clip.DenseValues().ToArray();
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
