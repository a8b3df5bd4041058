// --conv-check: what the convolution check (I3D.MLNet.Torch.Numerics.ConvolutionCheck) costs. The RGB InceptionI3d with
// the check off (libtorch's own conv3d everywhere: wrong numbers on a CPU with the oneDNN bug), auto (the routes the
// probe chose on this machine) and forced (every convolution through a workaround), alternating call by call in one
// process: inference on one 64x224x224 clip and on a batch of 4 16x112x112 clips, and one SGD training step on a batch
// of 2 16x112x112 clips. Also the probe itself: once with an empty cache, once with the verdicts cached.
using System.Diagnostics;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using static TorchSharp.torch;

internal static class CheckCostBenchmark
{
    public static int Run(int rounds, int threads)
    {
        set_num_threads(threads);
        var notices = new List<string>();
        ConvolutionCheck.Log = notices.Add;
        string cache = Directory.CreateTempSubdirectory("i3d-conv-check").FullName;
        ConvolutionCheck.CacheDirectory = cache;
        ConvolutionCheck.Mode = ConvolutionCheckMode.Auto;

        manual_seed(1);
        using var net = new InceptionI3d(400, 3);
        net.eval();
        var probe = Stopwatch.StartNew();
        var routes = ConvolutionCheck.Probe(net, [2, 3, 16, 112, 112]);
        double probeSeconds = probe.Elapsed.TotalSeconds;
        Conv3dGuard.Reset();
        probe.Restart();
        ConvolutionCheck.Probe(net, [2, 3, 16, 112, 112]);
        double cachedSeconds = probe.Elapsed.TotalSeconds;
        ConvolutionCheck.Mode = ConvolutionCheckMode.Force;
        ConvolutionCheck.Probe(net, [2, 3, 16, 112, 112]);

        using var clip = rand([1, 3, 64, 224, 224]) * 2 - 1;
        using var small = rand([4, 3, 16, 112, 112]) * 2 - 1;
        using var batch = rand([2, 3, 16, 112, 112]) * 2 - 1;
        using var labels = tensor(new long[] { 3, 250 });
        using var train = new InceptionI3d(400, 3);
        train.load_state_dict(net.state_dict());
        using var sgd = optim.SGD(train.parameters(), 0.01, 0.9);

        var modes = new[] { ConvolutionCheckMode.Off, ConvolutionCheckMode.Auto, ConvolutionCheckMode.Force };
        var work = new (string Name, Func<double> Run)[]
        {
            ("inference, 1 clip 64x224x224", () => Inference(net, clip)),
            ("inference, 4 clips 16x112x112", () => Inference(net, small)),
            ("training step, 2 clips 16x112x112", () => Step(train, sgd, batch, labels)),
        };
        var times = work.Select(_ => modes.Select(_ => new List<double>()).ToArray()).ToArray();
        for (int round = -1; round < rounds; round++) // round -1: warm-up
            for (int w = 0; w < work.Length; w++)
                for (int m = 0; m < modes.Length; m++)
                {
                    ConvolutionCheck.Mode = modes[m];
                    double seconds = work[w].Run();
                    if (round >= 0) times[w][m].Add(seconds);
                }

        Console.WriteLine($"Convolution check on {MachineIdentity.Cpu}, libtorch {MachineIdentity.Libtorch}, {threads} threads, " +
            $"{Environment.ProcessorCount} cores; median of {rounds} rounds (modes alternating call by call); load average {string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}");
        Console.WriteLine($"Routes chosen (auto): {string.Join(", ", routes.Where(r => r.Value != nameof(Conv3dRoute.Direct)).Select(r => $"{r.Key} {r.Value}").DefaultIfEmpty("every convolution direct"))}");
        Console.WriteLine($"Probe of the whole network: {probeSeconds:0.00} s with an empty cache (the first forward pass of 2x3x16x112x112 included), {cachedSeconds:0.00} s with the verdicts cached");
        Console.WriteLine();
        Console.WriteLine("| work | check off (s) | auto (s) | auto / off | forced (s) | forced / off |");
        Console.WriteLine("|---|---|---|---|---|---|");
        for (int w = 0; w < work.Length; w++)
        {
            double off = Statistics.Median(times[w][0]), auto = Statistics.Median(times[w][1]), forced = Statistics.Median(times[w][2]);
            Console.WriteLine($"| {work[w].Name} | {off:0.000} | {auto:0.000} | {auto / off:0.000} | {forced:0.000} | {forced / off:0.000} |");
        }
        Directory.Delete(cache, true);
        return 0;
    }

    private static double Inference(InceptionI3d net, Tensor x)
    {
        using var _ = no_grad();
        var sw = Stopwatch.StartNew();
        using var y = net.forward(x);
        return sw.Elapsed.TotalSeconds;
    }

    private static double Step(InceptionI3d net, TorchSharp.Modules.SGD sgd, Tensor x, Tensor y)
    {
        net.train();
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        sgd.zero_grad();
        nn.functional.cross_entropy(net.forward(x), y).backward();
        sgd.step();
        return sw.Elapsed.TotalSeconds;
    }
}
