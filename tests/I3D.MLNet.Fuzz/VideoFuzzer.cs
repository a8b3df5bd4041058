using System.Diagnostics;
using System.Text;
using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using OpenCvSharp;

namespace I3D.MLNet.Fuzz;

/// <summary>What one run of the video fuzzer does.</summary>
/// <param name="Iterations">Mutated files to try.</param>
/// <param name="Seed">Seed of the mutations: the same seed and inputs give the same files.</param>
/// <param name="Isolation">Where the child process decodes: in itself (a decoder crash kills it: counted as a crash), or
/// in LoadVideo's worker process (a decoder crash is an error naming the file).</param>
/// <param name="Inputs">A folder of videos to mutate; <c>null</c> writes two small ones (MJPEG AVI, MPEG-4 MP4).</param>
/// <param name="WorkFolder">Where the mutated files are written (each deleted after its run unless kept).</param>
/// <param name="TimeoutSeconds">Time limit of one child process (decode, flow, clips): past it, a hang.</param>
/// <param name="MemoryLimitMegabytes">Resident memory limit of one child process: past it, over memory.</param>
/// <param name="KeepFolder">Where files that crash, hang, pass the memory limit or give an unclear error are kept.</param>
internal sealed record FuzzSettings(int Iterations, int Seed, VideoDecodeIsolation Isolation, string? Inputs, string WorkFolder,
    double TimeoutSeconds = 60, int MemoryLimitMegabytes = 3072, string? KeepFolder = null);

/// <summary>One mutated file and what the pipeline made of it.</summary>
internal sealed record FuzzOutcome(int Iteration, string Source, string Kind, string Description, string Verdict, string Detail);

/// <summary>
/// The video fuzzing harness: mutates videos (<see cref="VideoMutations"/>) and runs each through LoadVideo ->
/// ExtractOpticalFlow -> SampleClips in a child process with a time and memory limit (<see cref="ProcessWatchdog"/>),
/// and counts per mutation kind: successes, clean errors (an expected exception whose message names the file),
/// unclear errors (any other exception, or values that are not finite), hangs, over memory, crashes.
/// </summary>
internal static class VideoFuzzer
{
    public const string Success = "success", CleanError = "clean error", UnclearError = "unclear error", Hang = "hang", OverMemory = "over memory", Crash = "crash";
    public static readonly string[] Verdicts = [Success, CleanError, UnclearError, Hang, OverMemory, Crash];

    private const int ChildCleanError = 2, ChildUnclearError = 3;
    private const string ErrorMarker = "FUZZ-ERROR: ";

    public static IReadOnlyList<FuzzOutcome> Run(FuzzSettings settings, TextWriter progress)
    {
        Directory.CreateDirectory(settings.WorkFolder);
        var seeds = Seeds(settings);
        var contents = seeds.ToDictionary(s => s, File.ReadAllBytes);
        var mutations = new VideoMutations(settings.Seed);
        var outcomes = new List<FuzzOutcome>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < settings.Iterations; i++)
        {
            string source = seeds[i % seeds.Count], other = seeds[(i + 1) % seeds.Count];
            var (kind, description, bytes) = mutations.Mutate(contents[source], contents[other]);
            string file = Path.Combine(settings.WorkFolder, $"fuzz-{settings.Seed}-{i:D5}{Path.GetExtension(source)}");
            File.WriteAllBytes(file, bytes);
            var (verdict, detail) = RunChild(file, settings);
            outcomes.Add(new FuzzOutcome(i, Path.GetFileName(source), kind, description, verdict, detail));
            if (verdict is not (Success or CleanError) && settings.KeepFolder is { } keep)
            {
                Directory.CreateDirectory(keep);
                File.Copy(file, Path.Combine(keep, Path.GetFileName(file)), overwrite: true);
                File.WriteAllText(Path.Combine(keep, Path.GetFileName(file) + ".txt"), $"{source}\n{kind}: {description}\n{verdict}: {detail}\n");
            }
            File.Delete(file);
            progress.WriteLine($"[{i + 1}/{settings.Iterations} {clock.Elapsed.TotalSeconds:0}s] {Path.GetFileName(source)} {kind} -> {verdict}{(verdict == Success ? "" : ": " + detail)}");
        }
        return outcomes;
    }

    private static List<string> Seeds(FuzzSettings settings)
    {
        if (settings.Inputs is { } folder)
        {
            var videos = Directory.EnumerateFiles(folder).Where(f => Path.GetExtension(f).ToLowerInvariant() is ".mp4" or ".avi" or ".mkv" or ".webm" or ".gif" or ".mov")
                .Order(StringComparer.Ordinal).ToList();
            return videos.Count > 0 ? videos : throw new ArgumentException($"{folder}: no video files (.mp4, .avi, .mkv, .webm, .gif, .mov) to mutate");
        }
        string seeds = Path.Combine(settings.WorkFolder, "seeds");
        Directory.CreateDirectory(seeds);
        return [WriteSeed(Path.Combine(seeds, "seed.avi"), FourCC.MJPG), WriteSeed(Path.Combine(seeds, "seed.mp4"), FourCC.MP4V)];
    }

    /// <summary>40 frames of 160 x 120 with moving gradients.</summary>
    private static string WriteSeed(string path, FourCC codec)
    {
        using var writer = new VideoWriter(path, codec, 25, new Size(160, 120));
        if (!writer.IsOpened()) throw new InvalidOperationException($"cannot write {path} ({codec})");
        using var frame = new Mat(120, 160, MatType.CV_8UC3);
        for (int t = 0; t < 40; t++)
        {
            for (int y = 0; y < 120; y++)
                for (int x = 0; x < 160; x++)
                    frame.At<Vec3b>(y, x) = new Vec3b((byte)(t * 6), (byte)(y * 2), (byte)((x + 3 * t) % 256));
            writer.Write(frame);
        }
        return path;
    }

    private static (string Verdict, string Detail) RunChild(string file, FuzzSettings settings)
    {
        var info = new ProcessStartInfo(VideoDecodeWorker.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "I3D.MLNet.Fuzz.dll"), "pipeline", file, "--isolation", IsolationName(settings.Isolation),
                     "--worker-timeout", (settings.TimeoutSeconds / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), "--worker-memory-mb", (settings.MemoryLimitMegabytes * 2 / 3).ToString() })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        string? verdict;
        using (var watchdog = new ProcessWatchdog(process, TimeSpan.FromSeconds(settings.TimeoutSeconds), (long)settings.MemoryLimitMegabytes << 20))
        {
            process.WaitForExit();
            verdict = watchdog.Verdict;
        }
        string errors = stderr.Result;
        if (verdict != null) return (verdict.StartsWith("did not finish", StringComparison.Ordinal) ? Hang : OverMemory, verdict);
        string line = errors.Split('\n').FirstOrDefault(l => l.StartsWith(ErrorMarker, StringComparison.Ordinal))?[ErrorMarker.Length..] ?? "";
        return process.ExitCode switch
        {
            0 => (Success, stdout.Result.Trim()),
            ChildCleanError => (CleanError, line),
            ChildUnclearError => (UnclearError, line),
            int code => (Crash, $"{ProcessWatchdog.SignalName(code) ?? $"exit code {code}"}: {Tail(errors)}"),
        };
    }

    private static string Tail(string text) => text.Length > 400 ? "..." + text[^400..].ReplaceLineEndings(" | ") : text.ReplaceLineEndings(" | ");

    public static string IsolationName(VideoDecodeIsolation isolation) => isolation == VideoDecodeIsolation.WorkerProcess ? "worker" : "in-process";

    public static VideoDecodeIsolation ParseIsolation(string name) => name switch
    {
        "worker" => VideoDecodeIsolation.WorkerProcess,
        "in-process" => VideoDecodeIsolation.InProcess,
        _ => throw new ArgumentException($"--isolation: '{name}' is not one of in-process, worker"),
    };

    /// <summary>The child: LoadVideo -> ExtractOpticalFlow -> SampleClips of one file, as training would. Exit 0 with the
    /// clips' shape, 2 with an error that names the file, 3 with any other error or values that are not finite.</summary>
    public static int Pipeline(string path, VideoDecodeIsolation isolation, double workerTimeoutSeconds, int workerMemoryMegabytes)
    {
        try
        {
            var ml = new MLContext(1);
            var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = path } });
            var loader = new VideoLoaderOptions
            {
                Decode = new VideoDecodeOptions { ShorterSide = 128, MaximumFrames = 64 },
                Isolation = isolation,
                WorkerTimeoutSeconds = workerTimeoutSeconds,
                WorkerMemoryLimitMegabytes = workerMemoryMegabytes,
            };
            var clips = new ClipSamplerOptions { Frames = 16, CropSize = 112 };
            var model = ml.Transforms.LoadVideo("Frames", nameof(PathRow.Path), loader)
                .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames", new FlowOptions()))
                .Append(ml.Transforms.SampleClips("RgbClip", "Frames", clips))
                .Append(ml.Transforms.SampleClips("FlowClip", "Flow", clips))
                .Fit(data);
            var output = model.Transform(data);
            using var cursor = output.GetRowCursor([output.Schema["RgbClip"], output.Schema["FlowClip"]]);
            var rgb = cursor.GetGetter<VBuffer<float>>(output.Schema["RgbClip"]);
            var flow = cursor.GetGetter<VBuffer<float>>(output.Schema["FlowClip"]);
            VBuffer<float> rgbClip = default, flowClip = default;
            var summary = new StringBuilder();
            while (cursor.MoveNext())
            {
                rgb(ref rgbClip);
                flow(ref flowClip);
                foreach (var (name, clip) in new[] { ("RGB", rgbClip), ("flow", flowClip) })
                    if (clip.DenseValues().Any(v => !float.IsFinite(v)))
                        return Fail(ChildUnclearError, $"{path}: the {name} clip holds values that are not finite (silent garbage)");
                summary.Append($"RGB clip {rgbClip.Length} values, flow clip {flowClip.Length} values");
            }
            Console.WriteLine(summary.Length > 0 ? summary.ToString() : "no rows");
            return 0;
        }
        catch (Exception e)
        {
            // Clean: a decoding or data error whose message names the file (what a user needs to find it among 240k).
            for (var inner = e; inner != null; inner = inner.InnerException)
                if (inner is VideoDecodeException or InvalidDataException or NativeDependencyException && inner.Message.Contains(path, StringComparison.Ordinal))
                    return Fail(ChildCleanError, $"{inner.GetType().Name}: {inner.Message}");
            return Fail(ChildUnclearError, $"{e.GetType().Name}: {e.Message} ({e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()})");
        }
    }

    private static int Fail(int code, string message)
    {
        Console.Error.WriteLine(ErrorMarker + message.ReplaceLineEndings(" "));
        return code;
    }

    /// <summary>Per mutation kind: iterations and each verdict's count, as a markdown table.</summary>
    public static string Table(IReadOnlyList<FuzzOutcome> outcomes)
    {
        var text = new StringBuilder("| mutation | iterations | successes | clean errors | unclear errors | hangs | over memory | crashes |\n|---|" + string.Concat(Enumerable.Repeat("---:|", Verdicts.Length + 1)) + "\n");
        foreach (var kind in VideoMutations.Kinds.Append("all"))
        {
            var rows = outcomes.Where(o => kind == "all" || o.Kind == kind).ToList();
            if (rows.Count == 0) continue;
            text.Append($"| {kind} | {rows.Count} | ").Append(string.Join(" | ", Verdicts.Select(v => rows.Count(o => o.Verdict == v)))).Append(" |\n");
        }
        return text.ToString();
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
