using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using I3D.MLNet.IO;
using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Extraction;
using I3D.MLNet.Flow;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Features;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;
using Microsoft.ML;

namespace I3D.MLNet.Cli.Commands;

/// <summary>What <c>i3d extract --what</c> computes per clip.</summary>
internal enum ExtractOutput
{
    /// <summary>TV-L1 flow of the video, into the flow cache (the row keeps its key).</summary>
    Flow,

    /// <summary>The RGB stream's pooled I3D features (<see cref="I3DFeatureNetwork"/>, what ExtractI3DFeatures computes).</summary>
    Features,

    /// <summary>The model's logits and predicted class.</summary>
    Predictions,
}

/// <summary>
/// <c>i3d extract (--data DIR | --list LIST) --what flow,features,predictions --out DIR [--shard i/N | --shards N]</c>: a
/// batch job over a dataset, one shard per process. Videos go to shards by a hash of their id (<see cref="VideoShard"/>);
/// each shard writes Parquet files of <c>--videos-per-file</c> videos (<see cref="ExtractedClips"/>), each atomically, so
/// a rerun of a killed shard skips the videos already written. A video that does not decode (decoding runs in a worker
/// process) is a row in <c>OUT/errors</c>, not a failure: the exit code is 0 when every video was either extracted or
/// recorded as an error, 1 when the job itself failed (a missing model, an unwritable folder).
/// </summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var dataset = DatasetArguments.WithPlainList();
        var what = new ChoiceListOption<ExtractOutput>("--what", "what to extract per clip: flow (into the flow cache), features (pooled I3D RGB features, needs --model), predictions (logits and class, needs --model)",
            ("flow", ExtractOutput.Flow), ("features", ExtractOutput.Features), ("predictions", ExtractOutput.Predictions)) { Required = true };
        var output = new Option<string>("--out") { Description = "Output folder: clips/*.parquet, errors/*.parquet (and flow-cache/ unless --cache-dir)", Required = true };
        var shard = new Option<string?>("--shard") { Description = "This process's shard, i/N (0-based); default: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID with --shards, else 0/1" };
        var shards = new Option<int?>("--shards") { Description = "Number of shards, with the index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job array)" };
        var model = new Option<string?>("--model") { Description = "A model zip from i3d train: its clips, flow settings and streams (needed for features and predictions)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Flow cache folder, shared by all shards (default OUT/flow-cache)" };
        var clips = new Option<int?>("--clips") { Description = "Clips per video, evenly spaced (default: the model's, else 1)" };
        var clipFrames = new Option<int?>("--clip-frames") { Description = "Frames per clip without --model (default 64)" };
        var cropSize = new Option<int?>("--crop-size") { Description = "Crop height and width without --model (default 224); the video's shorter side is resized to crop size x 256/224" };
        var algorithm = CliOptions.FlowAlgorithm();
        var perFile = new Option<int>("--videos-per-file") { Description = "Videos per Parquet file: what a killed shard recomputes at most", DefaultValueFactory = _ => 100 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: one per core)", DefaultValueFactory = _ => 0 };
        var device = CliOptions.Device("auto (cuda when TorchSharp sees a GPU), cpu or cuda");
        var command = new Command("extract", "Batch extraction over a dataset (one shard per process): flow into the cache, I3D features and predictions into Parquet files");
        foreach (var o in dataset.All.Concat([what, output, shard, shards, model, cacheDir, clips, clipFrames, cropSize, algorithm, perFile, threads, device])) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            var outputs = what.Read(parse);
            string outDir = parse.GetValue(output)!;
            using var job = new ExtractJob
            {
                Outputs = outputs.ToHashSet(),
                OutputFolder = outDir,
                Shard = ReadShard(parse.GetValue(shard), parse.GetValue(shards)),
                VideosPerFile = parse.GetValue(perFile) is >= 1 and var n ? n : throw new ArgumentException("--videos-per-file must be at least 1"),
                Error = parse.InvocationConfiguration.Error,
            };
            job.Configure(parse.GetValue(model), parse.GetValue(clips), parse.GetValue(clipFrames), parse.GetValue(cropSize), algorithm.Read(parse),
                parse.GetValue(cacheDir) ?? Path.Combine(outDir, "flow-cache"), device.Read(parse), parse.GetValue(threads));
            var data = dataset.Load(parse, train: true);
            string root = dataset.Root(parse);
            job.Run(data.Videos.Select(v => (Id: VideoId(root, v.Path), Video: v)));
            return 0;
        }));
        return command;
    }

    /// <summary>The video's id: its path relative to the dataset's root, with '/' separators (the same on every machine that mounts the data elsewhere).</summary>
    internal static string VideoId(string root, string path) => Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');

    private static VideoShard ReadShard(string? shard, int? shards)
    {
        if (shard is not null)
        {
            if (shards is not null) throw new ArgumentException("give --shard i/N or --shards N, not both");
            return VideoShard.Parse(shard);
        }
        return VideoShard.FromEnvironment(Environment.GetEnvironmentVariable, shards) ?? VideoShard.All;
    }
}

/// <summary>One shard's run of <c>i3d extract</c>: its settings, and the loop over its videos.</summary>
internal sealed class ExtractJob : IDisposable
{
    public required IReadOnlySet<ExtractOutput> Outputs { get; init; }
    public required string OutputFolder { get; init; }
    public required VideoShard Shard { get; init; }
    public required int VideosPerFile { get; init; }
    public required TextWriter Error { get; init; }

    private VideoDecodeOptions _decode = new();
    private ClipSamplerOptions _rgbClips = new();
    private ClipSamplerOptions _flowClips = new();
    private FlowOptions _flow = new();
    private FlowCache? _cache;
    private I3DPredictionTransformer? _classifier;
    private I3DFeatureNetwork? _features;
    private string? _modelHash;

    /// <summary>Flow is computed for --what flow, and for predictions of a model with a flow or a joined (3D-Fused) stream.</summary>
    private bool NeedsFlow => Outputs.Contains(ExtractOutput.Flow) || Outputs.Contains(ExtractOutput.Predictions) && _classifier!.Streams.Any(s => s != VideoStream.Rgb);

    /// <summary>Reads the clip and flow settings from the model zip (or the options) and loads its classifier (and,
    /// for features, the ExtractI3DFeatures network of its RGB stream); <see cref="Dispose"/> frees them.</summary>
    public void Configure(string? modelZip, int? clips, int? clipFrames, int? cropSize, FlowAlgorithm algorithm, string cacheDirectory, string device, int threads)
    {
        if (clips is < 1) throw new ArgumentException("--clips must be at least 1");
        bool needsModel = Outputs.Contains(ExtractOutput.Features) || Outputs.Contains(ExtractOutput.Predictions);
        if (needsModel && modelZip is null) throw new ArgumentException("--what features and predictions need --model ZIP (a model from i3d train)");
        if (modelZip is null)
        {
            if (clipFrames is < 1) throw new ArgumentException("--clip-frames must be at least 1");
            if (cropSize is < 1) throw new ArgumentException("--crop-size must be at least 1");
            int crop = cropSize ?? 224;
            _decode = new VideoDecodeOptions { FrameRate = 25, ShorterSide = VideoDecodeOptions.ShorterSideForCrop(crop) };
            _rgbClips = _flowClips = new ClipSamplerOptions { Frames = clipFrames ?? 64, CropSize = crop, ClipsPerVideo = clips ?? 1 };
            _flow = new FlowOptions { Algorithm = algorithm };
        }
        else
        {
            if (clipFrames is not null || cropSize is not null) throw new ArgumentException("--crop-size and --clip-frames: a model zip samples its clips as it was trained");
            var model = ModelZipFile.Load(new MLContext(0), modelZip, out _);
            using (var file = File.OpenRead(modelZip)) _modelHash = Convert.ToHexStringLower(SHA256.HashData(file));
            var chain = Steps(model).ToList();
            _decode = chain.OfType<VideoLoadingTransformer>().FirstOrDefault()?.Options.Decode ?? throw new InvalidDataException($"{modelZip}: no LoadVideo step (not a model zip from i3d train)");
            _classifier = VideoClassification.Classifier(model);
            ClipSamplerOptions? Sampler(string column) => chain.OfType<ClipSamplingTransformer>().FirstOrDefault(t => t.Columns.Any(c => c.inputColumnName == column))?.Options;
            var rgb = Sampler(VideoClassification.FramesColumn);
            var flow = Sampler(VideoClassification.FlowColumn);
            // A 3D-Fused model samples the joined video (JoinRgbAndFlow): its clips' frames, crop and size serve both.
            var first = rgb ?? flow ?? Sampler(VideoClassification.RgbAndFlowColumn) ?? throw new InvalidDataException($"{modelZip}: no SampleClips step");
            // The test protocol (centred, or K evenly spaced clips): the model's own choice for scoring.
            _rgbClips = (rgb ?? first) with { Mode = ClipSamplingMode.Test, ClipsPerVideo = clips ?? first.ClipsPerVideo };
            _flowClips = (flow ?? first) with { Mode = ClipSamplingMode.Test, ClipsPerVideo = clips ?? first.ClipsPerVideo };
            _flow = chain.OfType<OpticalFlowTransformer>().FirstOrDefault()?.Options ?? new FlowOptions { Algorithm = algorithm };
            _classifier.MoveTo(TorchDevices.Resolve(device));
            if (Outputs.Contains(ExtractOutput.Features))
                _features = _classifier.Streams.Contains(VideoStream.Rgb)
                    ? I3DFeatureNetwork.FromModel(_classifier, VideoStream.Rgb, device: device)
                    : throw new ArgumentException($"--what features: the model has no RGB stream (it has {string.Join(", ", _classifier.Streams.Select(s => s.Name()))})");
            if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        }
        if (_rgbClips.WholeVideo) throw new ArgumentException("the model scores whole videos; i3d extract needs clips (give --clips K)");
        _flow = _flow with { CacheDirectory = cacheDirectory };
        if (NeedsFlow) _cache = FlowCache.Open(cacheDirectory);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _features?.Dispose();
        _classifier?.Dispose();
    }

    /// <summary>The transformers of a model, nested chains flattened.</summary>
    private static IEnumerable<ITransformer> Steps(ITransformer model)
        => model is IEnumerable<ITransformer> chain ? chain.SelectMany(Steps) : [model];

    /// <summary>Extracts the videos of this shard not already in the output folder, <see cref="VideosPerFile"/> per file.</summary>
    public void Run(IEnumerable<(string Id, LabelledVideo Video)> videos)
    {
        var clock = Stopwatch.StartNew();
        string shard = Shard.ToString();
        var mine = videos.Where(v => Shard.Contains(v.Id)).DistinctBy(v => v.Id).OrderBy(v => v.Id, StringComparer.Ordinal).ToList();
        CheckSettings();
        var done = ExtractedClips.CompletedVideos(OutputFolder);
        var pending = mine.Where(v => !done.Contains(v.Id)).ToList();
        Error.WriteLine($"i3d extract: shard {shard}: {mine.Count} videos, {mine.Count - pending.Count} already done, {pending.Count} to do");
        int clipCount = 0, errorCount = 0, processed = 0;
        using var worker = new VideoLoaderOptions().NewWorker();
        foreach (var chunk in pending.Chunk(VideosPerFile))
        {
            var rows = new List<ExtractedClip>();
            var errors = new List<ExtractionError>();
            foreach (var (id, video) in chunk)
            {
                var started = Stopwatch.StartNew();
                try
                {
                    var clips = Extract(id, video, worker);
                    rows.AddRange(clips);
                    clipCount += clips.Count;
                    Error.WriteLine($"i3d extract: shard {shard}: [{++processed}/{pending.Count}] {id}: {clips.Count} clips, {started.Elapsed.TotalSeconds:0.0} s");
                }
                catch (VideoDecodeException e)
                {
                    errors.Add(new ExtractionError { Video = id, Label = LabelOf(video), Error = CliRunner.OneLine(e) });
                    errorCount++;
                    Error.WriteLine($"i3d extract: shard {shard}: [{++processed}/{pending.Count}] {id}: error: {CliRunner.OneLine(e)}");
                }
            }
            // Errors first: a kill between the two files leaves the failed videos recorded and the others to redo, never a video twice.
            string name = FileName(chunk.Select(v => v.Id));
            if (errors.Count > 0) ExtractedClips.Write(Path.Combine(OutputFolder, ExtractedClips.ErrorsFolder, name), errors);
            if (rows.Count > 0) ExtractedClips.Write(Path.Combine(OutputFolder, ExtractedClips.ClipsFolder, name), rows);
            Error.WriteLine($"i3d extract: shard {shard}: wrote {name} ({chunk.Length} videos, {rows.Count} clips, {errors.Count} errors)");
        }
        if (_cache?.TakeWriteFailureReport() is { } failure) Error.WriteLine($"i3d: warning: {failure}");
        double seconds = clock.Elapsed.TotalSeconds;
        Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"i3d extract: shard {shard}: done: {processed} videos ({mine.Count - pending.Count} done before), {clipCount} clips, {seconds:0.0} s, {processed / seconds:0.00} videos/s, {clipCount / seconds:0.00} clips/s, {errorCount} errors"));
    }

    /// <summary>The file in the output folder that records what its rows hold (<see cref="Settings"/>).</summary>
    internal const string SettingsFile = "extract-settings.json";

    /// <summary>What decides the rows' values: the outputs, the model (its SHA-256), decoding, clip sampling and flow
    /// settings (the cache folder and the shard count aside: every shard of a job writes the same).</summary>
    private string Settings() => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["what"] = Outputs.Order().Select(o => o.ToString().ToLowerInvariant()).ToArray(),
        ["model_sha256"] = _modelHash,
        ["decode"] = _decode.ToString(),
        ["rgb_clips"] = _rgbClips.ToString(),
        ["flow_clips"] = _flowClips.ToString(),
        ["flow"] = (_flow with { CacheDirectory = null }).ToString(),
    }, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>A rerun skips the videos already in the folder, so a run with other settings into the same folder
    /// would leave rows of two kinds side by side: refused, naming what differs. The first run records its settings.</summary>
    private void CheckSettings()
    {
        string path = Path.Combine(OutputFolder, SettingsFile), settings = Settings();
        if (File.Exists(path))
        {
            string before = File.ReadAllText(path);
            if (before == settings) return;
            var differs = Differences(before, settings);
            throw new ArgumentException($"{OutputFolder}: its rows were extracted with other settings ({differs}; see {path}): "
                + "a rerun skips the videos already there, so they would not be recomputed. Give another --out, or delete the folder to start again");
        }
        Directory.CreateDirectory(OutputFolder);
        AtomicFile.WriteAllText(path, settings); // every shard writes the same bytes, so shards starting together agree
    }

    private static string Differences(string before, string now)
    {
        try
        {
            var a = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(before)!;
            var b = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(now)!;
            var keys = a.Keys.Union(b.Keys).Where(k => !a.TryGetValue(k, out var x) || !b.TryGetValue(k, out var y) || x.GetRawText() != y.GetRawText());
            return string.Join("; ", keys.Select(k => k == "what"
                ? $"--what {Words(a.GetValueOrDefault(k))} then, {Words(b.GetValueOrDefault(k))} now"
                : $"{k} differs"));
        }
        catch (JsonException)
        {
            return "the settings file is not JSON";
        }

        static string Words(JsonElement e) => e.ValueKind == JsonValueKind.Array ? string.Join(',', e.EnumerateArray().Select(x => x.GetString())) : "?";
    }

    private string FileName(IEnumerable<string> ids)
    {
        // Named by its videos, so a rerun that writes the same videos writes the same name and another set another name.
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', ids))))[..16];
        return string.Create(CultureInfo.InvariantCulture, $"shard-{Shard.Index:D5}-of-{Shard.Count:D5}-{hash}.parquet");
    }

    private static string? LabelOf(LabelledVideo video) => video.Label.Length > 0 ? video.Label : null;

    /// <summary>The rows of one video: decode (in the worker), flow (cached), then per clip the features and logits.</summary>
    private List<ExtractedClip> Extract(string id, LabelledVideo video, VideoDecodeWorker worker)
    {
        var rgb = new VideoFrames { Source = video.Path };
        worker.Decode(video.Path, _decode, rgb);
        rgb.Source = video.Path;
        if (rgb.FrameCount == 0) throw new VideoDecodeException(video.Path, "no frames");
        var rgbPlan = ClipPlan.Make(_rgbClips, rgb.FrameCount, rgb.Height, rgb.Width, new Random(0), video.Path, training: false);
        string? key = null;
        VideoFrames? flow = null;
        if (NeedsFlow)
        {
            key = _cache!.Key(rgb, _flow);
            flow = OpticalFlow.Compute(rgb, _flow, _cache);
        }
        bool model = Outputs.Contains(ExtractOutput.Features) || Outputs.Contains(ExtractOutput.Predictions);
        var rgbClips = model ? StreamClips.Sample(rgbPlan, rgb, _rgbClips.CropSize) : null;
        var streams = new Dictionary<VideoStream, StreamClips>();
        if (Outputs.Contains(ExtractOutput.Predictions))
        {
            foreach (var stream in _classifier!.Streams)
            {
                streams[stream] = stream switch
                {
                    VideoStream.Rgb => rgbClips!,
                    VideoStream.Flow => StreamClips.Sample(ClipPlan.Make(_flowClips, flow!.FrameCount, flow.Height, flow.Width, new Random(0), video.Path, training: false), flow, _flowClips.CropSize),
                    _ => StreamClips.Sample(rgbPlan, Joined(rgb, flow!), _rgbClips.CropSize), // 3D-Fused: the joined video, sampled as SampleClips samples it
                };
            }
        }
        var rows = new List<ExtractedClip>();
        for (int k = 0; k < rgbPlan.FrameIndices.Length; k++)
        {
            var row = new ExtractedClip { Video = id, Clip = k, StartFrame = rgbPlan.FrameIndices[k][0], Label = LabelOf(video), FlowKey = key };
            if (Outputs.Contains(ExtractOutput.Features))
            {
                var (clip, shape) = rgbClips!.Slice(k);
                row.Features = _features!.Extract(clip, shape);
            }
            if (Outputs.Contains(ExtractOutput.Predictions))
            {
                var logits = new List<float[]>();
                foreach (var (stream, clips) in streams)
                {
                    var (clip, shape) = clips.Slice(k);
                    logits.Add(_classifier!.StreamLogits(stream, clip, shape));
                }
                row.Logits = StreamFusion.Sum(logits);
                row.PredictedLabel = _classifier!.Classes[Array.IndexOf(row.Logits, row.Logits.Max())];
            }
            rows.Add(row);
        }
        return rows;
    }

    private static VideoFrames Joined(VideoFrames rgb, VideoFrames flow)
    {
        var joined = new VideoFrames();
        RgbFlowJoiningTransformer.Join(rgb, flow, joined);
        return joined;
    }

    /// <summary>All clips of one stream of a video (N x C x T x S x S), and clip <c>k</c> alone: networks run one clip at a time.</summary>
    private sealed record StreamClips(float[] Values, int Count, long[] ClipShape)
    {
        public static StreamClips Sample(ClipPlan plan, VideoFrames frames, int crop)
        {
            int count = plan.FrameIndices.Length, length = plan.FrameIndices[0].Length;
            var values = new float[checked(count * frames.Channels * length * crop * crop)];
            plan.Write(frames, crop, values);
            return new StreamClips(values, count, [1, frames.Channels, length, crop, crop]);
        }

        public (float[] Clip, long[] Shape) Slice(int k)
        {
            int size = Values.Length / Count;
            return (Values.AsSpan(k * size, size).ToArray(), ClipShape);
        }
    }
}
