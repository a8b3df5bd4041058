using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using I3D.MLNet.Clips;
using I3D.MLNet.IO;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>i3d clips VIDEO... (--out clip.npy | --out-dir DIR)</c>: decode and sample clips with LoadVideo -> SampleClips
/// (or a saved pipeline zip), one row at a time, and write each in kinetics-i3d's sample layout, float32
/// (K, T, S, S, 3) in [-1, 1] (K = 1 unless --clips).
/// </summary>
internal static class ClipsCommand
{
    public static Command Create()
    {
        var videos = new Argument<string[]>("video") { Description = "Video files", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--out") { Description = "Output .npy file (one video)" };
        var outputDir = new Option<string?>("--out-dir") { Description = "Folder for one VIDEO-NAME.npy per video" };
        var frames = new Option<int>("--clip-frames") { Description = "Frames per clip (T)", DefaultValueFactory = _ => 64 };
        var size = new Option<int>("--crop-size") { Description = "Crop height and width (S)", DefaultValueFactory = _ => 224 };
        var shorterSide = new Option<int?>("--shorter-side") { Description = "Resize the shorter side to this first (default: crop size x 256/224, the paper's 256 for 224)" };
        var fps = new Option<double>("--fps") { Description = "Frame rate to resample to", DefaultValueFactory = _ => 25 };
        var mode = CliOptions.Mode();
        var clips = new Option<int>("--clips") { Description = "Test mode: K evenly spaced clips per video", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Seed for --mode train", DefaultValueFactory = _ => 0 };
        var savePipeline = new Option<string?>("--save-pipeline") { Description = "Also save the LoadVideo -> SampleClips pipeline as an ML.NET model zip" };
        var pipeline = new Option<string?>("--pipeline") { Description = "Use a saved pipeline zip (from --save-pipeline or mlContext.Model.Save) instead of the options above" };
        var stats = new Option<bool>("--stats") { Description = "Print videos, frames/s and peak memory on stderr" };
        var command = new Command("clips", "Sample clips from videos into .npy files (K, T, S, S, 3) in [-1, 1]") { videos, output, outputDir };
        command.AddRenamed(frames, "--frames");
        command.AddRenamed(size, "--size");
        foreach (var o in new Option[] { shorterSide, fps, mode, clips, seed, savePipeline, pipeline, stats }) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string[] paths = parse.GetValue(videos)!;
            string? outFile = parse.GetValue(output), outDir = parse.GetValue(outputDir);
            if ((outFile == null) == (outDir == null)) throw new ArgumentException("give exactly one of --out FILE (one video) or --out-dir DIR");
            if (outFile != null && paths.Length != 1) throw new ArgumentException($"--out takes one video, {paths.Length} given: use --out-dir");

            var ml = new MLContext(seed: 0);
            var data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { Path = p }));
            ITransformer model;
            if (parse.GetValue(pipeline) is { } zip)
            {
                model = ModelZipFile.Load(ml, zip, out _);
            }
            else
            {
                int s = parse.Value(size);
                var decode = new VideoDecodeOptions { FrameRate = parse.GetValue(fps), ShorterSide = parse.GetValue(shorterSide) ?? DefaultShorterSide(s) };
                var sampling = new ClipSamplerOptions { Mode = mode.Read(parse), Frames = parse.Value(frames), CropSize = s, ClipsPerVideo = parse.GetValue(clips), Seed = parse.GetValue(seed) };
                model = ml.Transforms.LoadVideo("Frames", nameof(PathRow.Path), new VideoLoaderOptions { Decode = decode })
                    .Append(ml.Transforms.SampleClips("Clip", "Frames", sampling))
                    .Fit(data);
            }
            if (parse.GetValue(savePipeline) is { } saveTo) TrainCommand.SaveModel(ml, model, data.Schema, saveTo);

            var stopwatch = Stopwatch.StartNew();
            long decodedFrames = 0;
            var transformed = model.Transform(data);
            var clipColumn = ClipColumn(transformed.Schema);
            var sampler = FindSampler(model, clipColumn.Name);
            // The video column the clips are cut from (RGB frames or flow): it gives the channels and the frame count.
            var sourceColumn = transformed.Schema[sampler.Columns.First(c => c.outputColumnName == clipColumn.Name).inputColumnName];
            using var cursor = transformed.GetRowCursor([clipColumn, sourceColumn]);
            var getClip = cursor.GetGetter<VBuffer<float>>(clipColumn);
            var getFrames = cursor.GetGetter<VideoFrames>(sourceColumn);
            var clip = default(VBuffer<float>);
            var video = VideoFrames.ForReading();
            float[] channelsLast = [];
            using var progress = new ConsoleProgress();
            for (int row = 0; cursor.MoveNext(); row++)
            {
                progress.Report((row, paths.Length, paths[row]));
                getFrames(ref video);
                getClip(ref clip);
                decodedFrames += video.FrameCount;
                int s = sampler.Options.CropSize, c = video.Channels;
                int t = sampler.Options.WholeVideo ? video.FrameCount : sampler.Options.Frames;
                int k = clip.Length / (c * t * s * s);
                if (channelsLast.Length != clip.Length) channelsLast = new float[clip.Length];
                ClipLayout.ToChannelsLast(clip.GetValues(), channelsLast, k, c, t, s, s);
                string target = outFile ?? Path.Combine(outDir!, Path.GetFileNameWithoutExtension(paths[row]) + ".npy");
                Npy.Write(target, channelsLast, k, t, s, s, c);
            }
            if (parse.GetValue(stats))
            {
                double seconds = stopwatch.Elapsed.TotalSeconds;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"clips: {paths.Length} videos, {decodedFrames} frames at the output rate in {seconds:0.###} s ({decodedFrames / seconds:0.#} frames/s), peak RSS {PeakRssKilobytes() / 1024.0:0.#} MB"));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The paper resizes to 256 and crops 224; other crop sizes keep that ratio.</summary>
    public static int DefaultShorterSide(int cropSize) => VideoDecodeOptions.ShorterSideForCrop(cropSize);

    private static DataViewSchema.Column ClipColumn(DataViewSchema schema)
        => schema.FirstOrDefault(c => c.Name == "Clip") is { Name: not null } clip && clip.Type is VectorDataViewType
            ? clip
            : throw new InvalidDataException("the pipeline has no float vector column named 'Clip' (SampleClips output)");

    private static ClipSamplingTransformer FindSampler(ITransformer model, string clipColumn)
        => (model is IEnumerable<ITransformer> chain ? chain : [model]).OfType<ClipSamplingTransformer>().LastOrDefault(s => s.Columns.Any(c => c.outputColumnName == clipColumn))
            ?? throw new InvalidDataException($"the pipeline has no SampleClips step that writes '{clipColumn}'");

    /// <summary>VmHWM of this process (Linux), in kB; 0 where /proc is absent.</summary>
    internal static long PeakRssKilobytes()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line == null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
