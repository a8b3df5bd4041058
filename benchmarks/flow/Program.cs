// Optical-flow speed harness: dotnet run -c Release --project benchmarks/flow -- [VIDEO...] [--pairs N] [--threads T] [--rounds R]
// For each video: N+1 frames from 1 s in, shorter side 256, centre crop 224x224; milliseconds per frame pair of our
// TV-L1, OpenCV's TV-L1 (superres DualTVL1, same defaults) and OpenCV's Farneback, in this process, best of R rounds
// (algorithms interleaved within a round), plus the mean end-point error of ours against OpenCV's on the same pairs.
// OpenCV is timed both ways it can use T threads (its own parallel_for_ on one pair at a time, or T pairs at once with
// one OpenCV thread each) and credited with the faster. Prints a markdown table for benchmarks/RESULTS.md.
//   dump VIDEO FRAMES SIDE OUT_PREFIX   writes OUT_PREFIX.rgb.npy and the raw flow of both TV-L1s (for python checks)
using System.Diagnostics;
using System.Globalization;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Video;
using OpenCvSharp;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

static VideoFrames Load(string path, int frames, int? side, double start = 0)
{
    using var decoder = VideoDecoder.Open(path);
    var rgb = new VideoFrames();
    decoder.Decode(new VideoDecodeOptions { MaximumFrames = frames, ShorterSide = side, StartSeconds = start }, rgb);
    return rgb;
}

static VideoFrames CentreCrop(VideoFrames rgb, int size)
{
    var crop = new VideoFrames(FrameElementKind.Rgb24, rgb.FrameCount, size, size) { FramesPerSecond = rgb.FramesPerSecond, Source = rgb.Source };
    int y0 = (rgb.Height - size) / 2, x0 = (rgb.Width - size) / 2;
    for (int t = 0; t < rgb.FrameCount; t++)
    for (int y = 0; y < size; y++)
        rgb.FrameBytes(t).Slice(((y0 + y) * rgb.Width + x0) * 3, size * 3).CopyTo(crop.FrameBytes(t).Slice(y * size * 3, size * 3));
    return crop;
}

static double Epe(float[] a, float[] b)
{
    double sum = 0;
    for (int i = 0; i < a.Length; i += 2) sum += Math.Sqrt((a[i] - b[i]) * (a[i] - b[i]) + (a[i + 1] - b[i + 1]) * (a[i + 1] - b[i + 1]));
    return sum / (a.Length / 2);
}

if (args.Length > 0 && args[0] == "dump")
{
    int frames = int.Parse(args[2]);
    var rgb = Load(args[1], frames, int.Parse(args[3]));
    var values = new float[rgb.Bytes.Length];
    for (int i = 0; i < values.Length; i++) values[i] = rgb.Bytes[i];
    Npy.Write(args[4] + ".rgb.npy", values, rgb.FrameCount, rgb.Height, rgb.Width, 3);
    foreach (var algorithm in new[] { FlowAlgorithm.TvL1, FlowAlgorithm.TvL1OpenCv })
        Npy.Write($"{args[4]}.{algorithm}.npy", OpticalFlow.ComputeRaw(rgb, new FlowOptions { Algorithm = algorithm }), rgb.FrameCount - 1, rgb.Height, rgb.Width, 2);
    return 0;
}

int pairs = 12, threads = 2, rounds = 2;
var videos = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--pairs": pairs = int.Parse(args[++i]); break;
        case "--threads": threads = int.Parse(args[++i]); break;
        case "--rounds": rounds = int.Parse(args[++i]); break;
        default: videos.Add(args[i]); break;
    }
}
if (videos.Count == 0)
{
    string shared = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../../shared/data/videos"));
    if (!Directory.Exists(shared)) { Console.Error.WriteLine($"no videos given and {shared} is absent"); return 2; }
    videos.AddRange(new[] { "mmaction2_demo.mp4", "abseiling_k400.mp4", "v_Basketball_g01_c01.avi" }.Select(n => Path.Combine(shared, n)));
}

var configurations = new (string Name, FlowAlgorithm Algorithm, int OpenCvThreads, int PairThreads)[]
{
    ("tvl1", FlowAlgorithm.TvL1, 1, threads),
    ("opencv-tvl1/own-threads", FlowAlgorithm.TvL1OpenCv, threads, 1),
    ("opencv-tvl1/pairs", FlowAlgorithm.TvL1OpenCv, 1, threads),
    ("farneback/own-threads", FlowAlgorithm.Farneback, threads, 1),
    ("farneback/pairs", FlowAlgorithm.Farneback, 1, threads),
};

Console.WriteLine($"{Environment.ProcessorCount} processors; {threads} threads; {pairs} pairs of 224x224 per video; best of {rounds} rounds; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
Console.WriteLine();
Console.WriteLine("| video | ours TV-L1 (ms/pair) | OpenCV TV-L1 (ms/pair) | speed-up | OpenCV Farneback (ms/pair) | EPE ours vs OpenCV TV-L1 (px) | mean motion (px) |");
Console.WriteLine("|---|---|---|---|---|---|---|");
var logRatios = new List<double>();
foreach (var path in videos)
{
    var rgb = CentreCrop(Load(path, pairs + 1, 256, start: 1), 224);
    var warm = new VideoFrames(FrameElementKind.Rgb24, 2, 224, 224);
    rgb.Bytes[..warm.Bytes.Length].CopyTo(warm.Bytes);
    var best = configurations.ToDictionary(c => c.Name, _ => double.MaxValue);
    var outputs = new Dictionary<string, float[]>();
    for (int round = 0; round < rounds; round++)
    {
        foreach (var (name, algorithm, openCvThreads, pairThreads) in configurations)
        {
            Cv2.SetNumThreads(openCvThreads);
            var options = new FlowOptions { Algorithm = algorithm, MaxDegreeOfParallelism = pairThreads };
            if (round == 0) OpticalFlow.ComputeRaw(warm, options);
            var watch = Stopwatch.StartNew();
            var flow = OpticalFlow.ComputeRaw(rgb, options);
            best[name] = Math.Min(best[name], watch.Elapsed.TotalMilliseconds / (rgb.FrameCount - 1));
            outputs[name] = flow;
        }
    }
    double ours = best["tvl1"];
    double opencv = Math.Min(best["opencv-tvl1/own-threads"], best["opencv-tvl1/pairs"]);
    double farneback = Math.Min(best["farneback/own-threads"], best["farneback/pairs"]);
    double epe = Epe(outputs["tvl1"], outputs["opencv-tvl1/pairs"]);
    double motion = Epe(outputs["opencv-tvl1/pairs"], new float[outputs["tvl1"].Length]);
    logRatios.Add(Math.Log(opencv / ours));
    Console.WriteLine($"| {Path.GetFileName(path)} | {ours:0.0} | {opencv:0.0} | {opencv / ours:0.0}x | {farneback:0.0} | {epe:0.000} | {motion:0.00} |");
    Console.Error.WriteLine($"  {Path.GetFileName(path)}: " + string.Join(", ", best.Select(kv => $"{kv.Key} {kv.Value:0.0} ms")));
}
Console.WriteLine();
Console.WriteLine($"Geometric mean speed-up of our TV-L1 over OpenCV's: {Math.Exp(logRatios.Average()):0.0}x");
return 0;
