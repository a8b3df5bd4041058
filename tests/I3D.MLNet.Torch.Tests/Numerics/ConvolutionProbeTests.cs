using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace I3D.MLNet.Torch.Tests.Numerics;

/// <summary>The probe's float64 reference, its verdicts, the routes, and the verdict cache on disk.</summary>
[Collection(ConvolutionCheckCollection.Name)]
public sealed class ConvolutionProbeTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-conv-probe-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>The check in Auto mode with its verdicts cached in this test's folder (and fresh in memory), until
    /// disposed: then the process's settings are back and the verdicts forgotten again.</summary>
    private IDisposable AutoCheckInTestFolder(Action<string>? log = null)
    {
        var (previousDir, previousMode, previousLog) = (ConvolutionCheck.CacheDirectory, ConvolutionCheck.Mode, ConvolutionCheck.Log);
        ConvolutionCheck.CacheDirectory = dir;
        ConvolutionCheck.Mode = ConvolutionCheckMode.Auto;
        if (log is not null) ConvolutionCheck.Log = log;
        Conv3dGuard.Reset();
        return new Restore(() =>
        {
            (ConvolutionCheck.CacheDirectory, ConvolutionCheck.Mode, ConvolutionCheck.Log) = (previousDir, previousMode, previousLog);
            Conv3dGuard.Reset();
        });
    }

    [Theory]
    [InlineData(24, 64, 3, 1, 1, false)]
    [InlineData(3, 16, 7, 2, 3, false)]
    [InlineData(5, 7, 1, 1, 0, true)]
    [InlineData(4, 8, 3, 2, 0, true)]
    public void Im2colReferenceEqualsFloat64Conv3dAndItsGradients(int cin, int cout, int k, int s, int p, bool bias)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn([2, cin, 5, 9, 8], ScalarType.Float64).requires_grad_();
        var w = randn([cout, cin, k, k, k], ScalarType.Float64).requires_grad_();
        var b = bias ? randn([cout], ScalarType.Float64).requires_grad_() : null;
        long[] stride = [s, s, s], padding = [p, p, p];
        var r = Conv3dProbe.Reference(x.detach(), w.detach(), b?.detach(), stride, padding, new Generator(1, CPU), ScalarType.Float64);
        var conv = F.conv3d(x, w, b, strides: stride, padding: padding);
        Assert.Equal(conv.shape, r.Y.shape);
        Assert.True(TestPaths.RelativeL2(r.Y, conv) < 1e-12);
        var grads = autograd.grad([conv], b is null ? [x, w] : [x, w, b], [r.Grad]);
        Assert.True(TestPaths.RelativeL2(r.GradX, grads[0]) < 1e-12);
        Assert.True(TestPaths.RelativeL2(r.GradW2, grads[1]) < 1e-7); // float32-rounded
        if (b is not null) Assert.True(TestPaths.RelativeL2(r.GradB!.sum([0]), grads[2]) < 1e-12);
        // Per clip: the first clip's weight gradient is that of a batch of one.
        var one = autograd.grad([F.conv3d(x.narrow(0, 0, 1), w, b, strides: stride, padding: padding)], [w], [r.Grad.narrow(0, 0, 1)]);
        Assert.True(TestPaths.RelativeL2(r.GradW1, one[0]) < 1e-7);
    }

    [Theory]
    [InlineData(24, 64, 3)]
    [InlineData(40, 24, 3)]
    [InlineData(3, 64, 7)]
    [InlineData(512, 24, 1)]
    public void EveryRouteIsRightOrTheProbeSaysSo(int cin, int cout, int k)
    {
        var shape = new Conv3dShape(cin, cout, (k, k, k), (1, 1, 1), (k / 2, k / 2, k / 2), false, nameof(ScalarType.Float32), Frames: 2);
        using var probe = new Conv3dProbe(shape, ScalarType.Float32, CPU);
        var errors = Enum.GetValues<Conv3dRoute>().ToDictionary(r => r, r => probe.Error(r));
        log.WriteLine($"{shape.Description} on {MachineIdentity.Cpu}: " + string.Join(", ", errors.Select(e => $"{e.Key} {e.Value.Error:E1} ({e.Value.Where})")));
        double tolerance = Conv3dProbe.Tolerance(ScalarType.Float32);
        // The workarounds are right here whatever libtorch's direct kernel does (float64 is the reference's own type).
        Assert.True(errors[Conv3dRoute.Float64].Error < 1e-12);
        Assert.True(errors[Conv3dRoute.SplitBatch].Error < tolerance, $"one clip at a time: {errors[Conv3dRoute.SplitBatch]}");
        Assert.True(errors[Conv3dRoute.PaddedChannels].Error < tolerance, $"padded channels: {errors[Conv3dRoute.PaddedChannels]}");
        var verdict = Conv3dGuard.Decide(shape, ScalarType.Float32, CPU, forced: false);
        Assert.Equal(errors[Conv3dRoute.Direct].Error <= tolerance ? Conv3dRoute.Direct : Conv3dRoute.PaddedChannels, verdict.Route);
    }

    [Fact]
    public void AWrongResultIsCaughtNaNIncluded()
    {
        // The probe's comparison is what catches a kernel: values off by 10% and NaN both count as wrong.
        using var scope = NewDisposeScope();
        var reference = ones(10, dtype: ScalarType.Float64);
        Assert.Equal(0.1, Conv3dProbe.Relative(ones(10).Times(1.1f), reference), 6);
        var nan = ones(10);
        nan[3] = tensor(float.NaN);
        Assert.Equal(double.PositiveInfinity, Conv3dProbe.Relative(nan, reference));
    }

    [Fact]
    public void CacheRoundTripsAndIgnoresForeignAndCorruptFiles()
    {
        var verdict = new Conv3dGuard.Verdict(Conv3dRoute.PaddedChannels, double.PositiveInfinity, "forward, batch 2");
        var cache = Conv3dProbeCache.Open(dir, "machine A");
        Assert.False(cache.TryGet("cpu|2|x", out _));
        cache.Add("cpu|2|x", verdict);
        cache.Add("cpu|2|y", verdict with { Route = Conv3dRoute.Direct, DirectError = 3e-7 });
        Assert.True(Conv3dProbeCache.Open(dir, "machine A").TryGet("cpu|2|x", out var read));
        Assert.Equal(verdict, read);
        Assert.True(Conv3dProbeCache.Open(dir, "machine A").TryGet("cpu|2|y", out read));
        Assert.Equal(3e-7, read.DirectError);

        // Another machine's key names another file; a file renamed from another machine is foreign.
        string file = cache.FilePath!;
        Assert.False(Conv3dProbeCache.Open(dir, "machine B").TryGet("cpu|2|x", out _));
        var other = Conv3dProbeCache.Open(dir, "machine B");
        other.Add("cpu|2|z", verdict);
        File.Copy(other.FilePath!, file, overwrite: true);
        Assert.False(Conv3dProbeCache.Open(dir, "machine A").TryGet("cpu|2|z", out _));

        // Corrupt files (garbage, an unknown route, a bad number, truncated) are ignored, then rewritten; so are
        // well-formed files of version 1, whose small probes missed kernels that are wrong from 3 output positions, of
        // version 2, whose verdicts judged scoring by its gradients too, and of version 3, which judged libtorch's own
        // one-clip kernel where one clip now runs as two halves through oneDNN.
        foreach (string text in new[] { "\0\u0001garbage", $"i3d-mlnet conv3d probe 4\nmachine\tmachine A\ncpu|2|x\tMagic\t1\tw\n",
                     $"i3d-mlnet conv3d probe 4\nmachine\tmachine A\ncpu|2|x\tDirect\tabc\tw\n", "i3d-mlnet conv3d probe 4\n", "",
                     $"i3d-mlnet conv3d probe 1\nmachine\tmachine A\ncpu|2|x\tDirect\t1E-07\tw\n",
                     $"i3d-mlnet conv3d probe 2\nmachine\tmachine A\ncpu|2|x\tDirect\t1E-07\tw\n",
                     $"i3d-mlnet conv3d probe 3\nmachine\tmachine A\ncpu|2|x\tDirect\t1E-07\tw\n" })
        {
            File.WriteAllText(file, text);
            var corrupt = Conv3dProbeCache.Open(dir, "machine A");
            Assert.False(corrupt.TryGet("cpu|2|x", out _));
            corrupt.Add("cpu|2|x", verdict);
            Assert.True(Conv3dProbeCache.Open(dir, "machine A").TryGet("cpu|2|x", out read));
            Assert.Equal(verdict, read);
        }
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void TheGuardReadsItsVerdictsFromTheCacheAndWritesNewOnes()
    {
        var notices = new List<string>();
        using (AutoCheckInTestFolder(notices.Add))
        {
            using var net = new InceptionI3d(5, 3);
            var first = ConvolutionCheck.Probe(net, [2, 3, 9, 32, 32]);
            var cache = Conv3dProbeCache.Open(dir, MachineIdentity.Key);
            var lines = File.ReadAllLines(cache.FilePath!);
            Assert.Equal(58, first.Count);
            Assert.True(lines.Length > 2 + 20, $"{lines.Length} lines in {cache.FilePath}"); // one per distinct shape

            // A verdict planted in the file is what the next process (here: after Reset) uses, without probing again.
            // Mixed_5c on 9 frames: 5 after Conv3d_1a (stride 2), 3 after MaxPool3d_4a, 2 after MaxPool3d_5a.
            var shape = new Conv3dShape(832, 384, (1, 1, 1), (1, 1, 1), (0, 0, 0), false, nameof(ScalarType.Float32), Frames: 2);
            string entry = Conv3dGuard.EntryKey(shape, CPU, Conv3dUse.Score); // Probe scores (no gradients)
            Assert.Contains(lines, l => l.StartsWith(entry + "\t", StringComparison.Ordinal));
            File.WriteAllLines(cache.FilePath!, lines.Select(l => l.StartsWith(entry + "\t", StringComparison.Ordinal) ? $"{entry}\tSplitBatch\t0.5\tplanted" : l));
            Conv3dGuard.Reset();
            var second = ConvolutionCheck.Probe(net, [2, 3, 9, 32, 32]);
            Assert.Equal(nameof(Conv3dRoute.SplitBatch), second["Mixed_5c.b0"]);
            Assert.Contains(notices, n => n.Contains("Mixed_5c.b0") && n.Contains("relative error 5.0e-1") && n.Contains(MachineIdentity.Cpu));
            foreach (var (layer, route) in first.Where(r => r.Key != "Mixed_5c.b0")) Assert.Equal(route, second[layer]);
        }
    }

    /// <summary>A call that needs no gradient (scoring) is judged by its forward result alone, a call that trains by its
    /// gradients too: two verdicts in the cache, each route right for what it computes (checked against float64).</summary>
    [Fact]
    public void ScoringAndTrainingHaveTheirOwnVerdicts()
    {
        using (AutoCheckInTestFolder())
        {
            using var scope = NewDisposeScope();
            manual_seed(8);
            long[] stride = [1, 1, 1], padding = [1, 1, 1];
            var x = randn([2, 24, 4, 10, 10]);
            var w = randn([64, 24, 3, 3, 3]).Times(1 / Math.Sqrt(24 * 27)).requires_grad_();
            var y64 = F.conv3d(x.to(ScalarType.Float64), w.detach().to(ScalarType.Float64), strides: stride, padding: padding);
            Tensor scored;
            using (no_grad()) scored = Conv3dGuard.Conv3d("score", x, w, null, stride, padding);
            var trained = Conv3dGuard.Conv3d("train", x, w, null, stride, padding);
            var g = randn_like(trained);
            var gradW = autograd.grad([trained], [w], [g])[0];
            var w64 = w.detach().to(ScalarType.Float64).requires_grad_();
            var gradW64 = autograd.grad([F.conv3d(x.to(ScalarType.Float64), w64, strides: stride, padding: padding)], [w64], [g.to(ScalarType.Float64)])[0];
            double tolerance = Conv3dProbe.Tolerance(ScalarType.Float32);
            double scoreErr = TestPaths.RelativeL2(scored, y64), trainErr = TestPaths.RelativeL2(trained, y64), gradErr = TestPaths.RelativeL2(gradW, gradW64);
            var lines = File.ReadAllLines(Conv3dProbeCache.Open(dir, MachineIdentity.Key).FilePath!);
            // A training call's input is in the layout the guard computes it in (channels-last on AMX CPUs: ActivationLayout).
            var scoreShape = Conv3dShape.Of(x, w, null, stride, padding);
            var trainShape = Conv3dShape.Of(ActivationLayout.For(x, training: true), w, null, stride, padding);
            string Route(Conv3dUse use) => Assert.Single(lines, l => l.StartsWith(Conv3dGuard.EntryKey(use == Conv3dUse.Score ? scoreShape : trainShape, CPU, use) + "\t", StringComparison.Ordinal)).Split('\t')[1];
            log.WriteLine($"24->64 3x3x3 on {MachineIdentity.Cpu}: scoring route {Route(Conv3dUse.Score)} (forward {scoreErr:E1}), training route {Route(Conv3dUse.TrainWeights)} (forward {trainErr:E1}, weight gradient {gradErr:E1})");
            Assert.True(scoreErr < tolerance && trainErr < tolerance && gradErr < tolerance, $"scoring {scoreErr}, training {trainErr}, weight gradient {gradErr}");
        }
    }

    [Theory]
    [InlineData(20, 7, 2, 56)] // the 2-D two-stream flow tower's conv1 (10 stacked flow frames): right up to 2 outputs, wrong from 3 on Zen 5
    [InlineData(24, 3, 1, 28)]
    [InlineData(3, 7, 2, 56)]
    public void GuardedConvolutionsAtTheNetworksSizesMatchFloat64(int cin, int k, int s, int size)
    {
        using (AutoCheckInTestFolder())
        {
            using var scope = NewDisposeScope();
            manual_seed(5);
            var x = randn([2, cin, 1, size, size]);
            var w = randn([64, cin, 1, k, k]).Times(1 / Math.Sqrt(cin * k * k));
            long[] stride = [1, s, s], padding = [0, k / 2, k / 2];
            var y = Conv3dGuard.Conv3d("test", x, w, null, stride, padding);
            var y64 = F.conv3d(x.to(ScalarType.Float64), w.to(ScalarType.Float64), strides: stride, padding: padding);
            var direct = F.conv3d(x, w, strides: stride, padding: padding);
            double err = TestPaths.RelativeL2(y, y64), directErr = TestPaths.RelativeL2(direct, y64);
            log.WriteLine($"{cin} channels, 1x{k}x{k} stride {s}, {size}x{size}, batch 2 on {MachineIdentity.Cpu}: guarded {err:E1}, libtorch's direct {directErr:E1}");
            Assert.True(err < Conv3dProbe.Tolerance(ScalarType.Float32), $"guarded: relative error {err} (direct {directErr})");
        }
    }

    /// <summary>
    /// Mixed-precision training's convolutions: bfloat16, with and without an input gradient (a network's first layer
    /// needs none), on 1 to 4 frames. On AMD Zen 5 (libtorch 2.10) the bfloat16 3x3x3 weight gradient is wrong on 2
    /// frames only, so each length has its own verdict (the shape key ends with <c>:tN</c>), and each routed result meets
    /// float64 within bfloat16's tolerance. The reference convolves the bfloat16 values themselves in float64, so only
    /// the arithmetic is judged, not the rounding of the inputs.
    /// </summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(2, false)]
    public void BFloat16TrainingIsRightOnEveryLengthWithItsOwnVerdict(long frames, bool inputGradient)
    {
        using (AutoCheckInTestFolder())
        {
            using var scope = NewDisposeScope();
            using var generator = new Generator(11, CPU);
            long[] stride = [1, 1, 1], padding = [1, 1, 1];
            double bound = 1 / Math.Sqrt(32 * 27);
            var x = empty([2, 32, frames, 5, 5]).uniform_(-1, 1, generator).to(ScalarType.BFloat16).requires_grad_(inputGradient);
            var w = empty([64, 32, 3, 3, 3]).uniform_(-bound, bound, generator).to(ScalarType.BFloat16).requires_grad_();
            var y = Conv3dGuard.Conv3d("test", x, w, null, stride, padding);
            var g = empty(y.shape).uniform_(-1, 1, generator).to(ScalarType.BFloat16);
            y.backward([g]);

            var x64 = x.detach().to(ScalarType.Float64).requires_grad_(inputGradient);
            var w64 = w.detach().to(ScalarType.Float64).requires_grad_();
            var y64 = F.conv3d(x64, w64, strides: stride, padding: padding);
            y64.backward([g.to(ScalarType.Float64)]);
            double ey = TestPaths.RelativeL2(y.to(ScalarType.Float64), y64), ew = TestPaths.RelativeL2(w.grad!.to(ScalarType.Float64), w64.grad!);
            double ex = inputGradient ? TestPaths.RelativeL2(x.grad!.to(ScalarType.Float64), x64.grad!) : 0;

            var use = inputGradient ? Conv3dUse.Train : Conv3dUse.TrainWeights;
            string entry = Conv3dGuard.EntryKey(Conv3dShape.Of(ActivationLayout.For(x, training: true), w, null, stride, padding), CPU, use);
            Assert.EndsWith($":t{frames}", entry);
            string route = Assert.Single(File.ReadAllLines(Conv3dProbeCache.Open(dir, MachineIdentity.Key).FilePath!),
                l => l.StartsWith(entry + "\t", StringComparison.Ordinal)).Split('\t')[1];
            log.WriteLine($"bfloat16 32->64 3x3x3 on {frames} frames ({use.Word()}) on {MachineIdentity.Cpu}: route {route}; relative error vs float64: output {ey:E1}, input gradient {ex:E1}, weight gradient {ew:E1}");
            // bfloat16 sums of these lengths: 2e-3 to 4e-3; the wrong kernels give NaN or errors of order 1.
            foreach (var e in new[] { ey, ex, ew }) Assert.InRange(e, 0, Conv3dProbe.Tolerance(ScalarType.BFloat16));
        }
    }

    [Theory]
    // channels in, out, input T, H, W, kernel (T, H, W), stride (T, H, W), padding (T, H, W): the axis and why
    [InlineData(96, 128, 8, 14, 14, 3, 3, 3, 1, 1, 1, 1, 1, 1)]   // time, even (Mixed_4's 3x3x3 at 32x112x112)
    [InlineData(32, 48, 5, 7, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1)]      // every output odd: the longest (height), one extra slice
    [InlineData(24, 40, 1, 6, 5, 1, 3, 3, 1, 1, 1, 0, 1, 1)]      // one frame: height, even; 24 channels (wrong at batch 2 on Zen 5)
    [InlineData(16, 32, 1, 1, 5, 1, 1, 3, 1, 1, 1, 0, 0, 1)]      // width alone, odd: one extra slice
    [InlineData(64, 64, 9, 9, 9, 3, 3, 3, 2, 2, 2, 1, 1, 1)]      // stride 2 (ResNet's downsampling), time output 5
    [InlineData(480, 128, 4, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0)]    // 1x1x1, time
    [InlineData(48, 64, 6, 8, 8, 2, 3, 3, 1, 1, 1, 0, 1, 1)]      // an even kernel in time, no padding there: height
    public void OneSmallClipRunsAsTwoHalvesThatMatchFloat64WithTheirGradients(long cin, long cout, long t, long h, long w, long kt, long kh, long kw,
        long st, long sh, long sw, long pt, long ph, long pw)
    {
        long[] stride = [st, sh, sw], padding = [pt, ph, pw];
        using var check = AutoCheckInTestFolder();
        using var scope = NewDisposeScope();
        using var generator = new Generator(7, CPU);
        var x = empty([1, cin, t, h, w]).uniform_(-0.5, 0.5, generator).requires_grad_();
        double bound = 0.5 / Math.Sqrt(cin * kt * kh * kw);
        var weight = empty([cout, cin, kt, kh, kw]).uniform_(-bound, bound, generator).requires_grad_();
        var bias = rand([cout], generator: generator).requires_grad_();
        Assert.True(Conv3dHalves.Applies(x, weight), "a shape libtorch computes without oneDNN, so that the halves are what is tested");

        var y = Conv3dGuard.Conv3d("test", x, weight, bias, stride, padding);
        var upstream = empty(y.shape).uniform_(-0.5, 0.5, generator);
        y.backward([upstream]);

        var x64 = x.detach().to(ScalarType.Float64).requires_grad_();
        var w64 = weight.detach().to(ScalarType.Float64).requires_grad_();
        var b64 = bias.detach().to(ScalarType.Float64).requires_grad_();
        var y64 = F.conv3d(x64, w64, b64, strides: stride, padding: padding);
        Assert.Equal(y64.shape, y.shape);
        y64.backward([upstream.to(ScalarType.Float64)]);

        double ey = TestPaths.RelativeL2(y, y64), ex = TestPaths.RelativeL2(x.grad!, x64.grad!),
            ew = TestPaths.RelativeL2(weight.grad!, w64.grad!), eb = TestPaths.RelativeL2(bias.grad!, b64.grad!);
        log.WriteLine($"relative error vs float64 on {MachineIdentity.Cpu}: output {ey:E1}, input gradient {ex:E1}, weight gradient {ew:E1}, bias gradient {eb:E1}");
        // float32 sums of these lengths: 1e-7 to 1e-6; a misplaced window or a lost slice is of order 1.
        foreach (var e in new[] { ey, ex, ew, eb }) Assert.InRange(e, 0, 2e-6);
    }

    [Fact]
    public void OnlyWhatLibtorchComputesWithoutOneDnnRunsAsHalves()
    {
        using var scope = NewDisposeScope();
        Assert.True(Conv3dHalves.Applies(zeros([1, 96, 8, 14, 14]), zeros([128, 96, 3, 3, 3]))); // C x T x H = 10752
        Assert.False(Conv3dHalves.Applies(zeros([1, 128, 16, 28, 28]), zeros([192, 128, 3, 3, 3]))); // 57344 > 20480
        Assert.False(Conv3dHalves.Applies(zeros([2, 96, 8, 14, 14]), zeros([128, 96, 3, 3, 3]))); // a batch of two
        Assert.False(Conv3dHalves.Applies(zeros([1, 3, 16, 56, 56]), zeros([64, 3, 7, 7, 7]))); // a 7x7 kernel: oneDNN's
        Assert.False(Conv3dHalves.Applies(zeros([1, 96, 8, 14, 14], ScalarType.Float64), zeros([128, 96, 3, 3, 3], ScalarType.Float64)));
        Assert.False(Conv3dHalves.Applies(zeros([1, 96, 8, 14, 14], ScalarType.BFloat16), zeros([128, 96, 3, 3, 3], ScalarType.BFloat16)));
        // A single output position cannot be split: the plain call.
        using var generator = new Generator(3, CPU);
        var x = randn([1, 16, 3, 3, 3], generator: generator);
        var w = randn([8, 16, 3, 3, 3], generator: generator);
        Assert.Equal(0, (Conv3dHalves.Conv3d(x, w, null, [1, 1, 1], [0, 0, 0]) - F.conv3d(x, w)).abs().max().item<float>());
    }
}
