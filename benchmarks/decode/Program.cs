// Usage: dotnet run -c Release --project benchmarks/decode -- [VIDEO...] [--repeat N]
// For each video: frames per second of LoadVideo -> SampleClips (25 fps, shorter side 256, a 64x224 test clip)
// in this process, with the system's FFmpeg libraries and with OpenCV's bundled FFmpeg, and of
// `ffmpeg -i X -vf fps=25,scale=-2:256 -f rawvideo -pix_fmt rgb24 -` on the same file (its process start included),
// interleaved, best of 2 x N runs each; prints a markdown table with the ratios (target >= 1.0 on H.264).
using System.Diagnostics;
using System.Globalization;
using I3D.MLNet;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
int repeat = 5;
var videos = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--repeat") repeat = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--parts") { }
    else videos.Add(args[i]);
}
if (videos.Count == 0)
{
    string shared = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../../shared/data/videos"));
    if (!Directory.Exists(shared)) { Console.Error.WriteLine($"no videos given and {shared} is absent"); return 2; }
    videos.AddRange(Directory.GetFiles(shared).Where(f => !f.EndsWith(".gif")).OrderBy(f => f));
}

if (args.Contains("--parts"))
{
    // Where the time goes for each video: OpenCV's own read loop, VideoDecoder.Decode (25 fps, shorter side 256), and
    // the whole LoadVideo -> SampleClips pipeline, frames out per second, best of N.
    var ml0 = new MLContext(0);
    foreach (var video in videos)
    {
        int outFrames = 0;
        double read = Best(repeat, () =>
        {
            using var c = new OpenCvSharp.VideoCapture(video, OpenCvSharp.VideoCaptureAPIs.FFMPEG, [70, Environment.ProcessorCount + 2]);
            using var m = new OpenCvSharp.Mat();
            while (c.Read(m) && !m.Empty()) { }
        });
        var framesBuffer = new VideoFrames();
        double decode = Best(repeat, () =>
        {
            using var d = VideoDecoder.Open(video);
            d.Decode(new VideoDecodeOptions { FrameRate = 25, ShorterSide = 256 }, framesBuffer);
            outFrames = framesBuffer.FrameCount;
        });
        double decodeFresh = Best(repeat, () =>
        {
            using var d = VideoDecoder.Open(video);
            d.Decode(new VideoDecodeOptions { FrameRate = 25, ShorterSide = 256 }, new VideoFrames());
        });
        var rows = ml0.Data.LoadFromEnumerable(new[] { new Row { Path = video } });
        var load = ml0.Transforms.LoadVideo("Frames", "Path").Fit(rows);
        double loadVideo = Best(repeat, () =>
        {
            var output = load.Transform(rows);
            using var cursor = output.GetRowCursor(output.Schema);
            var getFrames = cursor.GetGetter<VideoFrames>(output.Schema["Frames"]);
            var f = new VideoFrames();
            cursor.MoveNext();
            getFrames(ref f);
        });
        var sample = ml0.Transforms.LoadVideo("Frames", "Path").Append(ml0.Transforms.SampleClips("Clip", "Frames")).Fit(rows);
        double sampled = TimeClip(sample, rows, repeat);
        Console.WriteLine($"{Path.GetFileName(video)}: {outFrames} frames out; OpenCV read loop {read:0.000} s, VideoDecoder.Decode {decode:0.000} s ({outFrames / decode:0} frames/s; {decodeFresh:0.000} s into a new buffer), LoadVideo {loadVideo:0.000} s, + SampleClips {sampled:0.000} s");
    }
    return 0;
}
var ml = new MLContext(0);
var ffmpegBackend = FFmpegAvailable() ? VideoDecoderBackend.FFmpeg : VideoDecoderBackend.OpenCv;
Console.WriteLine($"CPU: {CpuModel()}; {Environment.ProcessorCount} cores; load average {LoadAverage()}");
Console.WriteLine($"| video | frames out | ours, {ffmpegBackend} (frames/s) | ours, OpenCV's FFmpeg (frames/s) | ffmpeg CLI (frames/s) | ratio | ratio, OpenCV's |");
Console.WriteLine($"|---|---|---|---|---|---|---|");
double logSum = 0, logSumOpenCv = 0;
foreach (var video in videos)
{
    var data = ml.Data.LoadFromEnumerable(new[] { new Row { Path = video } });
    int frames = 0;
    double Ours(VideoDecoderBackend backend)
    {
        var model = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decoder = backend }).Append(ml.Transforms.SampleClips("Clip", "Frames")).Fit(data);
        // The frames out, counted once outside the timing (a caller's own VideoFrames is a copy of the row's 65+ MB).
        var counted = model.Transform(data).GetColumn<VideoFrames>("Frames").Single();
        frames = counted.FrameCount;
        // Timed: what a caller does, a clip per video (the sampler reads the decoded frames without a copy).
        return TimeClip(model, data, repeat);
    }
    // Interleaved: ours (system FFmpeg), ffmpeg, ours (OpenCV), so that a change in the machine's load hits all three.
    double ours = double.MaxValue, ffmpeg = double.MaxValue, openCv = double.MaxValue;
    long bytes = 0;
    for (int round = 0; round < 2; round++)
    {
        ours = Math.Min(ours, Ours(ffmpegBackend));
        ffmpeg = Math.Min(ffmpeg, Best(repeat, () => bytes = Ffmpeg(video)));
        openCv = Math.Min(openCv, Ours(VideoDecoderBackend.OpenCv));
    }
    int ffmpegFrames = (int)(bytes / (3L * 256 * OutputWidth(video)));
    double oursFps = frames / ours, openCvFps = frames / openCv, ffmpegFps = ffmpegFrames / ffmpeg;
    logSum += Math.Log(oursFps / ffmpegFps);
    logSumOpenCv += Math.Log(openCvFps / ffmpegFps);
    Console.WriteLine($"| {Path.GetFileName(video)} | {frames} | {oursFps:0} | {openCvFps:0} | {ffmpegFps:0} | {oursFps / ffmpegFps:0.00} | {openCvFps / ffmpegFps:0.00} |");
}
Console.WriteLine($"\ngeometric mean ratio: {Math.Exp(logSum / videos.Count):0.00} ({ffmpegBackend}), {Math.Exp(logSumOpenCv / videos.Count):0.00} (OpenCV's FFmpeg); ours / ffmpeg CLI, {Environment.ProcessorCount} cores, best of 2 x {repeat}");
return 0;

static bool FFmpegAvailable()
{
    try { return VideoDecoder.ResolveBackend(VideoDecoderBackend.Auto) == VideoDecoderBackend.FFmpeg; }
    catch (ArgumentException) { return false; }
}

static string CpuModel() => File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown"
    : "unknown";

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

// Best of n: LoadVideo -> SampleClips of the one row, up to its clip (what a caller asks for).
static double TimeClip(ITransformer model, IDataView data, int n) => Best(n, () =>
{
    var output = model.Transform(data);
    using var cursor = output.GetRowCursor(output.Schema);
    var getClip = cursor.GetGetter<VBuffer<float>>(output.Schema["Clip"]);
    var clip = default(VBuffer<float>);
    cursor.MoveNext();
    getClip(ref clip);
});

static double Best(int n, Action action)
{
    action(); // warm-up
    double best = double.MaxValue;
    for (int i = 0; i < n; i++)
    {
        var sw = Stopwatch.StartNew();
        action();
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
    }
    return best;
}

static long Ffmpeg(string video)
{
    var info = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
    foreach (var a in new[] { "-v", "error", "-i", video, "-vf", "fps=25,scale=-2:256", "-f", "rawvideo", "-pix_fmt", "rgb24", "-" }) info.ArgumentList.Add(a);
    using var p = Process.Start(info)!;
    var err = p.StandardError.ReadToEndAsync();
    var buffer = new byte[1 << 20];
    long total = 0;
    int n;
    while ((n = p.StandardOutput.BaseStream.Read(buffer)) > 0) total += n;
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed on {video}: {err.Result}");
    return total;
}

static int OutputWidth(string video)
{
    using var d = VideoDecoder.Open(video);
    int w = (int)Math.Round((double)d.Width * 256 / d.Height);
    return d.Width >= d.Height ? w + (w % 2) : 256; // ffmpeg's -2: rounded to an even width
}

sealed class Row
{
    public string Path { get; set; } = "";
}
