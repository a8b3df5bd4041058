// Usage: dotnet run -c Release --project benchmarks/onnx [-- --frames 64 --size 224 --repeats 3 --threads 2]
// Builds the RGB InceptionI3d (400 classes, random weights), exports it with OnnxExporter, and times one clip through
// ONNX Runtime (CPU; graph optimisation ENABLE_ALL and ENABLE_EXTENDED) and TorchSharp (float32) in the same process,
// on the same clip, with the same thread count. Median of the repeats after one warm-up run.
using System.Diagnostics;
using I3D.MLNet.Onnx;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

int frames = Arg("--frames", 64), size = Arg("--size", 224), repeats = Arg("--repeats", 3), threads = Arg("--threads", 2);
// ~111 GMAC (222 GFLOP) for the RGB stream on 64x224x224 (platform notes); the network's cost scales with T x H x W.
double gflop = 222.0 * frames / 64 * size * size / (224.0 * 224.0);

// The shared fixture's weights (BatchNorm statistics calibrated so activations stay of order one) when present, so the
// logits comparison means something; else fresh random weights.
var repo = new DirectoryInfo(AppContext.BaseDirectory);
while (repo.Parent is not null && !File.Exists(Path.Combine(repo.FullName, "I3D.MLNet.sln"))) repo = repo.Parent;
string fixture = Path.GetFullPath(Path.Combine(repo.FullName, "..", "shared", "fixtures", "pytorch-i3d", "rgb_random.pt"));
manual_seed(1);
using var net = File.Exists(fixture) ? ModuleWeights.LoadInceptionI3d(fixture) : new InceptionI3d(400, 3);
net.eval();
string weights = File.Exists(fixture) ? "pytorch-i3d fixture weights" : "fresh random weights";
var sw = Stopwatch.StartNew();
byte[] model = OnnxExporter.Export(net, new OnnxExportOptions { Size = size });
double exportSeconds = sw.Elapsed.TotalSeconds;
var gen = new Random(2);
var data = new float[3 * frames * size * size];
for (int i = 0; i < data.Length; i++) data[i] = (float)(gen.NextDouble() * 2 - 1);
long[] shape = [1, 3, frames, size, size];

var rows = new List<(string Name, double Seconds, double? Setup, double? RelErr)>();
set_num_threads(threads);
float[] reference;
double torchSeconds;
using (var x = tensor(data, shape))
using (var _ = no_grad())
{
    float[] Run() { using var y = net.forward(x); return y.data<float>().ToArray(); }
    (torchSeconds, reference) = Time(Run, repeats);
}
rows.Add(($"TorchSharp 0.107 (libtorch 2.10) float32", torchSeconds, null, null));

foreach (var level in new[] { GraphOptimizationLevel.ORT_ENABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_EXTENDED, GraphOptimizationLevel.ORT_ENABLE_BASIC })
{
    sw.Restart();
    using var onnx = I3DOnnxModel.Load(model, "i3d.onnx", new OnnxSessionSettings { IntraOpThreads = threads, OptimizationLevel = level });
    double setup = sw.Elapsed.TotalSeconds;
    var (seconds, logits) = Time(() => onnx.Logits(data, shape), repeats);
    rows.Add(($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {level}", seconds, setup, RelativeL2(logits, reference)));
}

Console.WriteLine($"RGB InceptionI3d (400 classes, {weights}), one clip 1x3x{frames}x{size}x{size} (~{gflop:0} GFLOP), {threads} intra-op threads, "
    + $"median of {repeats} runs after one warm-up, {Environment.ProcessorCount} cores; export took {exportSeconds:0.0} s");
Console.WriteLine();
Console.WriteLine("| implementation | seconds / clip | clips/s | GFLOP/s | session set-up (s) | logits rel. L2 vs TorchSharp |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var (name, s, setup, err) in rows)
    Console.WriteLine($"| {name} | {s:0.00} | {1 / s:0.000} | {gflop / s:0} | {(setup is null ? "-" : $"{setup:0.0}")} | {(err is null ? "-" : $"{err:E1}")} |");
return 0;

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

static (double Seconds, float[] Logits) Time(Func<float[]> run, int repeats)
{
    run(); // warm-up
    var times = new List<double>();
    float[] last = [];
    for (int i = 0; i < repeats; i++)
    {
        var sw = Stopwatch.StartNew();
        last = run();
        times.Add(sw.Elapsed.TotalSeconds);
    }
    times.Sort();
    return (times[times.Count / 2], last);
}

static double RelativeL2(float[] a, float[] b)
{
    double d = 0, n = 0;
    for (int i = 0; i < a.Length; i++) { d += Math.Pow(a[i] - b[i], 2); n += Math.Pow(b[i], 2); }
    return Math.Sqrt(d / n);
}
