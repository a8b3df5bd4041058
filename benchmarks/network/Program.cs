// Usage: dotnet run -c Release --project benchmarks/network [-- --frames 64 --repeats 3 --no-python]
// Builds the RGB InceptionI3d with random weights, saves them (torch.save zip) and the clip (.npy), times TorchSharp
// in several settings, then runs bench_network.py (/usr/bin/python3, python3-torch) on the same files in the same run.
using System.Diagnostics;
using System.Text.Json;
using I3D.MLNet.IO;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

int frames = Arg("--frames", 64), repeats = Arg("--repeats", 3), size = Arg("--size", 224);
bool python = !args.Contains("--no-python");
string work = Directory.CreateTempSubdirectory("i3d-bench").FullName;
string weights = Path.Combine(work, "rgb.pt"), clip = Path.Combine(work, "clip.npy");

manual_seed(1);
using var net = new InceptionI3d(400, 3);
net.eval();
ModuleWeights.Save(net, weights);
var gen = new Random(2);
var data = new float[frames * size * size * 3];
for (int i = 0; i < data.Length; i++) data[i] = (float)(gen.NextDouble() * 2 - 1);
Npy.Write(clip, data, 1, frames, size, size, 3);
using var x = tensor(data, [1, frames, size, size, 3]).permute(0, 4, 1, 2, 3).contiguous();

var rows = new List<(string Name, double Seconds, double? RelErr)>();
Tensor? reference = null;
foreach (var (threads, fold) in new[] { (2, true), (2, false), (1, true) })
{
    set_num_threads(threads);
    InceptionI3d.FoldBatchNormAtInference = fold;
    var (t, y) = Time(net, x, repeats);
    rows.Add(($"TorchSharp 0.107 (libtorch 2.10) float32, {threads} thread(s), BatchNorm {(fold ? "folded into the convolutions" : "separate")}",
        t, reference is null ? null : RelativeL2(y, reference)));
    if (reference is null) reference = y; else y.Dispose();
}
set_num_threads(2);
InceptionI3d.FoldBatchNormAtInference = true;
using (var bf = new InceptionI3d(400, 3))
{
    ModuleWeights.Load(bf, weights, "InceptionI3d");
    bf.eval();
    bf.to(ScalarType.BFloat16);
    using var xb = x.to(ScalarType.BFloat16);
    var (t, y) = Time(bf, xb, repeats);
    rows.Add(("TorchSharp bfloat16 (module + input), 2 threads", t, RelativeL2(y, reference!)));
    y.Dispose();
}

if (python)
{
    string script = Path.Combine(AppContext.BaseDirectory, "bench_network.py");
    var psi = new ProcessStartInfo("/usr/bin/python3", $"\"{script}\" \"{weights}\" \"{clip}\" {repeats}") { RedirectStandardOutput = true };
    using var p = Process.Start(psi)!;
    string output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException("bench_network.py failed");
    using var doc = JsonDocument.Parse(output);
    var logits = doc.RootElement.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray();
    using var py = tensor(logits, [1, 400]);
    rows.Add(($"python3-torch {doc.RootElement.GetProperty("version").GetString()} float32, 2 threads", doc.RootElement.GetProperty("seconds").GetDouble(), RelativeL2(py, reference!)));
}

Console.WriteLine($"RGB InceptionI3d, one clip 1x3x{frames}x{size}x{size}, median of {repeats} runs after one warm-up, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| implementation | seconds | vs python3-torch | logits rel. L2 vs TorchSharp float32 |");
Console.WriteLine("|---|---|---|---|");
double? pyTime = python ? rows[^1].Seconds : null;
foreach (var (name, s, err) in rows)
    Console.WriteLine($"| {name} | {s:0.00} | {(pyTime is null ? "-" : $"{pyTime / s:0.00}x")} | {(err is null ? "-" : $"{err:E1}")} |");
Directory.Delete(work, true);
return 0;

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

static (double Seconds, Tensor Logits) Time(InceptionI3d net, Tensor x, int repeats)
{
    using var _ = no_grad();
    Tensor Run() => net.forward(x).to(ScalarType.Float32);
    Run().Dispose(); // warm-up
    var times = new List<double>();
    Tensor? last = null;
    for (int i = 0; i < repeats; i++)
    {
        last?.Dispose();
        var sw = Stopwatch.StartNew();
        last = Run();
        times.Add(sw.Elapsed.TotalSeconds);
    }
    times.Sort();
    return (times[times.Count / 2], last!);
}

static double RelativeL2(Tensor a, Tensor b)
{
    using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).norm();
    using var n = b.to(ScalarType.Float64).norm();
    return d.item<double>() / n.item<double>();
}
