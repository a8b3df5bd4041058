// --one-clip: the convolutions of one small clip, as libtorch computes them (its own im2col + GEMM path below its size
// bound, oneDNN above) and as the library does (Conv3dHalves: two halves of the output as a batch of two, always
// oneDNN). The shapes are InceptionI3d's Mixed_4 and Mixed_5 convolutions at a 32x112x112 clip (the demo's test clips)
// and at a 64x224x224 one, and one above the bound for contrast. Each row: milliseconds per call (median of 15 after 3
// warm-up calls), GFLOP/s, and the two results' relative L2.
using System.Diagnostics;
using I3D.MLNet.Torch.Numerics;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

internal static class OneClipConvolutionsBenchmark
{
    public static int Run(int threads)
    {
        set_num_threads(threads);
        using var _ = no_grad();
        (string Where, long In, long Out, long T, long H, long K)[] shapes =
        [
            ("Mixed_4b.b1b, 32x112x112 clip", 96, 208, 8, 14, 3),
            ("Mixed_4c.b2b (padded to 32), 32x112x112", 32, 64, 8, 14, 3),
            ("Mixed_4e.b1b, 32x112x112", 144, 288, 8, 14, 3),
            ("Mixed_5b.b1b, 32x112x112", 160, 320, 4, 7, 3),
            ("Mixed_5c.b1b, 32x112x112", 192, 384, 4, 7, 3),
            ("Mixed_5c.b0 (1x1x1), 32x112x112", 832, 384, 4, 7, 1),
            ("Mixed_5b.b1b, 64x224x224 clip", 160, 320, 8, 7, 3),
            ("Mixed_5c.b1b, 64x224x224", 192, 384, 8, 7, 3),
            ("Mixed_4b.b1b, 64x224x224 (above the bound)", 96, 208, 16, 14, 3),
        ];
        Console.WriteLine($"CPU: {MachineIdentity.Cpu}, {threads} threads; one clip (batch 1), float32");
        Console.WriteLine();
        Console.WriteLine("| convolution | input C x T x H x W | libtorch's call (ms) | GFLOP/s | as two halves (ms) | GFLOP/s | speed-up | rel. L2 between them |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (where, cin, cout, t, h, k) in shapes)
        {
            using var scope = NewDisposeScope();
            manual_seed(1);
            var x = randn([1, cin, t, h, h]);
            var w = randn([cout, cin, k, k, k]).mul_(1 / Math.Sqrt(cin * k * k * k));
            long[] stride = [1, 1, 1], padding = [k / 2, k / 2, k / 2];
            double gflop = 2.0 * cout * cin * k * k * k * t * h * h / 1e9;
            var (direct, yd) = Time(() => F.conv3d(x, w, strides: stride, padding: padding));
            var (halves, yh) = Time(() => Conv3dHalves.Conv3d(x, w, null, stride, padding));
            double err = (yh - yd).norm().item<float>() / yd.norm().item<float>();
            Console.WriteLine($"| {where} | {cin}x{t}x{h}x{h}{(Conv3dHalves.Applies(x, w) ? "" : " (not split)")} | {direct:0.00} | {gflop / direct * 1e3:0} | {halves:0.00} | {gflop / halves * 1e3:0} | {direct / halves:0.00}x | {err:E1} |");
        }
        return 0;
    }

    private static (double Milliseconds, Tensor Result) Time(Func<Tensor> conv)
    {
        for (int i = 0; i < 3; i++) conv().Dispose();
        var times = new List<double>();
        Tensor y = conv();
        for (int i = 0; i < 15; i++)
        {
            y.Dispose();
            var sw = Stopwatch.StartNew();
            y = conv();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        return (Statistics.Median(times), y);
    }
}
