// Usage: dotnet run -c Release --project benchmarks/network [-- --frames 64 --repeats 3 --no-python]
//        ... -- --train-step [--batch 2 --frames 16 --size 112 --classes 101 --steps 5 --threads 2 --no-python] (TrainStep.cs)
//        ... -- --conv-check [--rounds 5 --threads 2]: what the convolution numerics check costs (CheckCost.cs)
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
if (args.Contains("--ops")) return OpTimes();
if (args.Contains("--conv-check")) return CheckCostBenchmark.Run(Arg("--rounds", 5), Arg("--threads", 2));
if (args.Contains("--train-step"))
    return TrainStepBenchmark.Run(Arg("--batch", 2), Arg("--frames", 16), Arg("--size", 112), Arg("--classes", 101), Arg("--steps", 5), Arg("--threads", 2), python);
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

// Settings are interleaved (each round runs every setting once) so that load from other processes on this shared
// machine spreads over all of them; the median over rounds is reported.
using var bf = new InceptionI3d(400, 3);
ModuleWeights.Load(bf, weights, "InceptionI3d");
bf.eval();
bf.to(ScalarType.BFloat16);
using var xb = x.to(ScalarType.BFloat16);
var settings = new (string Name, InceptionI3d Net, Tensor Input, int Threads, bool Fold)[]
{
    ("TorchSharp 0.107 (libtorch 2.10) float32, 2 threads, BatchNorm folded into the convolutions", net, x, 2, true),
    ("TorchSharp float32, 2 threads, BatchNorm separate (as the reference)", net, x, 2, false),
    ("TorchSharp float32, 1 thread, BatchNorm folded", net, x, 1, true),
    ("TorchSharp bfloat16 (module + input converted), 2 threads, BatchNorm folded", bf, xb, 2, true),
};
var times = settings.Select(_ => new List<double>()).ToArray();
var outputs = new Tensor?[settings.Length];
for (int round = -1; round < repeats; round++) // round -1: warm-up
    for (int i = 0; i < settings.Length; i++)
    {
        var (_, n, input, threads, fold) = settings[i];
        set_num_threads(threads);
        n.FoldBatchNormAtInference = fold;
        var (seconds, y) = Time(n, input);
        if (round >= 0) times[i].Add(seconds);
        outputs[i]?.Dispose();
        outputs[i] = y;
    }
set_num_threads(2);
var reference = outputs[1]!; // the reference's arithmetic order
var rows = settings.Select((c, i) => (Name: c.Name, Seconds: Median(times[i]), RelErr: i == 1 ? (double?)null : RelativeL2(outputs[i]!, reference))).ToList();

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
    rows.Add(($"python3-torch {doc.RootElement.GetProperty("version").GetString()} float32, 2 threads (reference module)", doc.RootElement.GetProperty("seconds").GetDouble(), RelativeL2(py, reference)));
}

Console.WriteLine($"RGB InceptionI3d, one clip 1x3x{frames}x{size}x{size}, median of {repeats} interleaved rounds after one warm-up round, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| implementation | seconds | vs python3-torch | logits rel. L2 vs TorchSharp float32, BatchNorm separate |");
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

static (double Seconds, Tensor Logits) Time(InceptionI3d net, Tensor x)
{
    using var _ = no_grad();
    var sw = Stopwatch.StartNew();
    var y = net.forward(x).to(ScalarType.Float32);
    return (sw.Elapsed.TotalSeconds, y);
}

// Where the time goes per dtype: the layer types of the network on Mixed_3b-sized activations (1x192x32x28x28).
static int OpTimes()
{
    set_num_threads(2);
    using var _ = no_grad();
    foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
    {
        using var scope = NewDisposeScope();
        var x = randn([1, 192, 32, 28, 28]).to(dtype);
        var w3 = randn([128, 192, 3, 3, 3]).to(dtype);
        var w1 = randn([64, 192, 1, 1, 1]).to(dtype);
        using var bn = nn.BatchNorm3d(192);
        bn.eval();
        bn.to(dtype);
        var clip = randn([1, 3, 64, 229, 229]).to(dtype);
        var w7 = randn([64, 3, 7, 7, 7]).to(dtype);
        var ops = new (string, Func<Tensor>)[]
        {
            ("conv3d 7x7x7 s2 3->64 (64x224x224 clip)", () => nn.functional.conv3d(clip, w7, strides: [2, 2, 2])),
            ("conv3d 3x3x3 192->128", () => nn.functional.conv3d(x, w3, padding: [1, 1, 1])),
            ("conv3d 1x1x1 192->64", () => nn.functional.conv3d(x, w1)),
            ("max_pool3d 3x3x3 s1 p1", () => nn.functional.max_pool3d(x, [3, 3, 3], [1, 1, 1], [1, 1, 1])),
            ("max_pool3d separable (W,H,T)", () =>
            {
                using var a = nn.functional.max_pool3d(x, [1, 1, 3], [1, 1, 1], [0, 0, 1]);
                using var b = nn.functional.max_pool3d(a, [1, 3, 1], [1, 1, 1], [0, 1, 0]);
                return nn.functional.max_pool3d(b, [3, 1, 1], [1, 1, 1], [1, 0, 0]);
            }),
            ("max via shifted slices (W,H,T)", () =>
            {
                using var scope2 = NewDisposeScope();
                var y = nn.functional.pad(x, [1, 1, 1, 1, 1, 1]);
                for (int d = 4; d >= 2; d--)
                {
                    long n = y.shape[d] - 2;
                    y = y.narrow(d, 0, n).maximum(y.narrow(d, 1, n)).maximum(y.narrow(d, 2, n));
                }
                return y.MoveToOuterDisposeScope();
            }),
            ("pad (0,1,0,1,0,1)", () => nn.functional.pad(x, [0, 1, 0, 1, 0, 1])),
            ("batch_norm (eval)", () => bn.forward(x)),
            ("relu_", () => x.clone().relu_()),
            ("cat x4 (channels)", () => cat([x, x, x, x], 1)),
        };
        foreach (var (name, op) in ops)
        {
            op().Dispose();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 3; i++) op().Dispose();
            Console.WriteLine($"{dtype,-9} {name,-40} {sw.Elapsed.TotalMilliseconds / 3,8:0.0} ms");
        }
    }
    return 0;
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted[sorted.Count / 2];
}

static double RelativeL2(Tensor a, Tensor b)
{
    using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).norm();
    using var n = b.to(ScalarType.Float64).norm();
    return d.item<double>() / n.item<double>();
}
