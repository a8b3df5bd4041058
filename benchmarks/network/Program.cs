// Usage: dotnet run -c Release --project benchmarks/network [-- --frames 64 --size 224 --repeats 3 --threads 2 --no-python]
//        ... -- --train-step [--batch 2 --frames 16 --size 112 --classes 101 --steps 5 --threads 2 --no-python --mixed] (TrainStep.cs)
//        ... -- --conv-check [--rounds 5 --threads 2]: what the convolution numerics check costs (CheckCost.cs)
//        ... -- --ops: where the time goes, per layer type and element type
//        ... -- --one-clip [--threads 2]: one small clip's convolutions, libtorch's own call vs two halves (OneClipConvolutions.cs)
// The project's one scoring benchmark: the CPU model and load, the CPU's measured peak (libtorch's GEMM in float32 and
// bfloat16), then one RGB InceptionI3d clip (random weights, saved as a torch.save zip, the clip as .npy) through every
// engine and precision in the same process (TorchSharp float32 and bfloat16, ONNX Runtime float32), interleaved round
// by round, then Debian's python3-torch (bench_network.py) on the same files; each row's GFLOP/s, its share of the peak
// of its precision, its speed against python3-torch, and its logits' relative error against float64 (the judge).
using System.Diagnostics;
using System.Text.Json;
using I3D.MLNet.IO;
using I3D.MLNet.Onnx;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

int frames = Arg("--frames", 64), repeats = Arg("--repeats", 3), size = Arg("--size", 224), threads = Arg("--threads", 2);
bool python = !args.Contains("--no-python");
if (args.Contains("--ops")) return OpTimes();
if (args.Contains("--conv-check")) return CheckCostBenchmark.Run(Arg("--rounds", 5), Arg("--threads", 2));
if (args.Contains("--one-clip")) return OneClipConvolutionsBenchmark.Run(Arg("--threads", 2));
if (args.Contains("--train-step"))
    return TrainStepBenchmark.Run(Arg("--batch", 2), Arg("--frames", 16), Arg("--size", 112), Arg("--classes", 101), Arg("--steps", 5), Arg("--threads", 2), python, args.Contains("--mixed"));
string loadBefore = LoadAverage();
string work = Directory.CreateTempSubdirectory("i3d-bench").FullName;
string weights = Path.Combine(work, "rgb.pt"), clip = Path.Combine(work, "clip.npy");
set_num_threads(threads);

manual_seed(1);
using var net = new InceptionI3d(400, 3);
net.eval();
ModuleWeights.Save(net, weights);
var gen = new Random(2);
var data = new float[frames * size * size * 3];
for (int i = 0; i < data.Length; i++) data[i] = (float)(gen.NextDouble() * 2 - 1);
Npy.Write(clip, data, 1, frames, size, size, 3);
using var x = tensor(data, [1, frames, size, size, 3]).permute(0, 4, 1, 2, 3).contiguous();
float[] ncdhw = x.data<float>().ToArray();
long[] shape = [1, 3, frames, size, size];

// The CPU's measured peak. float32: a loop of independent fused multiply-adds on registers, one thread per core (what
// the cores can do at all); bfloat16: libtorch's GEMM (2048 x 2048 x 2048, oneDNN's AVX-512 BF16 dot products; .NET
// has no intrinsic for them). libtorch's float32 GEMM is printed beside, for scale.
double peak32 = FmaPeak(threads), gemm32 = GemmPeak(ScalarType.Float32, threads), peak16 = GemmPeak(ScalarType.BFloat16, threads);
// The clip's arithmetic: the convolutions' multiply-adds, twice (pooling, BatchNorm and ReLU add well under 1%).
long[] macs = [0];
using (Conv3dGuard.CountMultiplyAdds(macs))
using (no_grad())
    net.forward(x).Dispose();
double gflop = 2.0 * macs[0] / 1e9;
// The judge: the same weights and clip in float64.
float[] judge;
using (var net64 = new InceptionI3d(400, 3))
{
    ModuleWeights.Load(net64, weights, "InceptionI3d");
    net64.eval();
    net64.to(ScalarType.Float64);
    using var _ = no_grad();
    using var x64 = x.to(ScalarType.Float64);
    using var y64 = net64.forward(x64);
    judge = y64.to(ScalarType.Float32).data<float>().ToArray();
}

using var bf = new InceptionI3d(400, 3);
ModuleWeights.Load(bf, weights, "InceptionI3d");
bf.eval();
bf.to(ScalarType.BFloat16); // what ScoringPrecision.BFloat16 scores with (StreamNetwork.SetPrecision)
using var xb = x.to(ScalarType.BFloat16);
byte[] onnxModel = OnnxExporter.Export(net, new OnnxExportOptions { Size = size });
using var onnxExtended = I3DOnnxModel.Load(onnxModel, "i3d.onnx", new OnnxSessionSettings { IntraOpThreads = threads, OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED });
using var onnxAll = I3DOnnxModel.Load(onnxModel, "i3d.onnx", new OnnxSessionSettings { IntraOpThreads = threads, OptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
string ort = $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}";
float[] Torch(InceptionI3d n, Tensor input, int t, bool fold, ConvolutionCheckMode check = ConvolutionCheckMode.Auto)
{
    set_num_threads(t);
    n.FoldBatchNormAtInference = fold;
    var mode = ConvolutionCheck.Mode;
    ConvolutionCheck.Mode = check;
    try
    {
        using var _ = no_grad();
        using var y = n.forward(input);
        return y.to(ScalarType.Float32).data<float>().ToArray();
    }
    finally
    {
        ConvolutionCheck.Mode = mode;
        set_num_threads(threads);
    }
}
var settings = new (string Name, string Precision, Func<float[]> Run)[]
{
    ($"TorchSharp 0.107 (libtorch {__version__}), BatchNorm separate as in the reference (the library's scoring)", "float32", () => Torch(net, x, threads, false)),
    ("TorchSharp, BatchNorm folded into the convolutions", "float32", () => Torch(net, x, threads, true)),
    ("TorchSharp, 1 thread", "float32", () => Torch(net, x, 1, false)),
    // libtorch's own choice of kernel for one clip: no convolution check, so no small convolution run as two halves
    // through oneDNN (Conv3dHalves); its logits show what the check catches on this CPU.
    ("TorchSharp, I3D_CONV3D_CHECK=off (libtorch's one-clip kernels, unchecked)", "float32", () => Torch(net, x, threads, false, ConvolutionCheckMode.Off)),
    ("TorchSharp, ScoringPrecision.BFloat16 (the library's bfloat16 scoring)", "bfloat16", () => Torch(bf, xb, threads, false)),
    ("TorchSharp, bfloat16, BatchNorm folded", "bfloat16", () => Torch(bf, xb, threads, true)),
    ($"{ort} CPU, ORT_ENABLE_ALL (the library's default)", "float32", () => onnxAll.Logits(ncdhw, shape)),
    ($"{ort} CPU, ORT_ENABLE_EXTENDED", "float32", () => onnxExtended.Logits(ncdhw, shape)),
};
// Settings are interleaved (each round runs every setting once, starting one further each round) so that load from
// other processes on this shared machine spreads over all of them; the median over rounds is reported. A pause before
// each run lets the previous engine's threads stop spinning (ONNX Runtime's wait for more work on 2 cores slowed the
// next TorchSharp run by up to 40%).
var times = settings.Select(_ => new List<double>()).ToArray();
var outputs = new float[settings.Length][];
for (int round = -1; round < repeats; round++) // round -1: warm-up
    for (int k = 0; k < settings.Length; k++)
    {
        int i = (k + Math.Max(round, 0)) % settings.Length;
        Thread.Sleep(300);
        var sw = Stopwatch.StartNew();
        outputs[i] = settings[i].Run();
        if (round >= 0) times[i].Add(sw.Elapsed.TotalSeconds);
    }
var rows = settings.Select((c, i) => (c.Name, c.Precision, Seconds: Median(times[i]), RelErr: RelativeL2(outputs[i], judge))).ToList();

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
    rows.Add(($"python3-torch {doc.RootElement.GetProperty("version").GetString()}, {threads} threads (the reference module)", "float32", doc.RootElement.GetProperty("seconds").GetDouble(), RelativeL2(logits, judge)));
}

Console.WriteLine($"CPU: {MachineIdentity.Cpu}, {Environment.ProcessorCount} cores, {threads} threads; load average {loadBefore} before, {LoadAverage()} after");
Console.WriteLine($"Measured peak: float32 {peak32:0} GFLOP/s ({FmaKind()}, {threads} threads; libtorch's float32 GEMM 2048^3 reaches {gemm32:0}), bfloat16 {peak16:0} GFLOP/s (libtorch's GEMM 2048^3)");
Console.WriteLine($"RGB InceptionI3d, one clip 1x3x{frames}x{size}x{size} ({gflop:0.0} GFLOP in its convolutions), median of {repeats} interleaved rounds after one warm-up round");
Console.WriteLine();
Console.WriteLine("| implementation | precision | seconds / clip | GFLOP/s | of the measured peak | vs python3-torch | logits rel. L2 vs float64 |");
Console.WriteLine("|---|---|---|---|---|---|---|");
double? pyTime = python ? rows[^1].Seconds : null;
foreach (var (name, precision, sec, err) in rows)
{
    double rate = gflop / sec, peak = precision == "bfloat16" ? peak16 : peak32;
    Console.WriteLine($"| {name} | {precision} | {sec:0.00} | {rate:0} | {rate / peak:P0} | {(pyTime is null ? "-" : $"{pyTime / sec:0.00}x")} | {err:E1} |");
}
Directory.Delete(work, true);
return 0;

static string LoadAverage() => string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

static string FmaKind() => System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "AVX-512 FMA loop" : "AVX2 FMA loop";

// GFLOP/s of 12 independent chains of fused multiply-adds per thread (enough to cover the FMA latency of two pipes),
// best of 3 runs of about half a second.
static double FmaPeak(int threads)
{
    const long iterations = 100_000_000;
    double best = 0;
    for (int run = 0; run < 3; run++)
    {
        var sw = Stopwatch.StartNew();
        var sums = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sums[t] = FmaChains(iterations));
        best = Math.Max(best, (System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? 16 : 8) * 2.0 * 12 * iterations * threads / sw.Elapsed.TotalSeconds / 1e9);
        if (sums.Any(float.IsNaN)) throw new InvalidOperationException("unreachable");
    }
    return best;
}

static float FmaChains(long iterations)
{
    if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
    {
        var m = System.Runtime.Intrinsics.Vector512.Create(0.999999f);
        var c = System.Runtime.Intrinsics.Vector512.Create(1e-7f);
        System.Runtime.Intrinsics.Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < iterations; i++)
        {
            a0 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a0, m, c); a1 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a1, m, c);
            a2 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a2, m, c); a3 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a3, m, c);
            a4 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a4, m, c); a5 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a5, m, c);
            a6 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a6, m, c); a7 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a7, m, c);
            a8 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a8, m, c); a9 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a9, m, c);
            a10 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a10, m, c); a11 = System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a11, m, c);
        }
        return System.Runtime.Intrinsics.Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
    var m8 = System.Runtime.Intrinsics.Vector256.Create(0.999999f);
    var c8 = System.Runtime.Intrinsics.Vector256.Create(1e-7f);
    System.Runtime.Intrinsics.Vector256<float> b0 = m8, b1 = m8, b2 = m8, b3 = m8, b4 = m8, b5 = m8, b6 = m8, b7 = m8, b8 = m8, b9 = m8, b10 = m8, b11 = m8;
    for (long i = 0; i < iterations; i++)
    {
        b0 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b0, m8, c8); b1 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b1, m8, c8);
        b2 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b2, m8, c8); b3 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b3, m8, c8);
        b4 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b4, m8, c8); b5 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b5, m8, c8);
        b6 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b6, m8, c8); b7 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b7, m8, c8);
        b8 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b8, m8, c8); b9 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b9, m8, c8);
        b10 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b10, m8, c8); b11 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(b11, m8, c8);
    }
    return System.Runtime.Intrinsics.Vector256.Sum(b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11);
}

static double GemmPeak(ScalarType type, int threads)
{
    set_num_threads(threads);
    using var scope = NewDisposeScope();
    const long n = 2048;
    var a = randn([n, n]).to(type);
    var b = randn([n, n]).to(type);
    a.mm(b).Dispose();
    double best = double.MaxValue;
    for (int i = 0; i < 5; i++)
    {
        var sw = Stopwatch.StartNew();
        a.mm(b).Dispose();
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
    }
    return 2.0 * n * n * n / best / 1e9;
}

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
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
        using var bn = HeldBatchNorm.Over3d(192);
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

static double RelativeL2(float[] a, float[] b)
{
    double d = 0, n = 0;
    for (int i = 0; i < a.Length; i++) { d += Math.Pow(a[i] - b[i], 2); n += Math.Pow(b[i], 2); }
    return Math.Sqrt(d / n);
}
