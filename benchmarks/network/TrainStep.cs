// --train-step: one training step (forward, cross-entropy on the time-averaged logits, backward, SGD lr 0.01 momentum 0.9)
// of the RGB InceptionI3d on a batch of clips, TorchSharp vs python3-torch (bench_network.py --train-step) on the same
// weights file, batch and labels, both on 2 threads. The python process stays up and is driven step by step over
// stdin, so the two alternate step by step (interleaved: load from other jobs on the machine spreads over both).
// With --mixed, a third contestant: the same network (its own copy of the same weights) trained in mixed precision
// (I3DTrainerOptions.Precision = BFloat16: bfloat16 convolutions, float32 weights, BatchNorm, loss and SGD), its step
// taken between the other two, so the ratio to the float32 step is measured in the same run.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using I3D.MLNet.IO;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

internal static class TrainStepBenchmark
{
    public static int Run(int batch, int frames, int size, int classes, int steps, int threads, bool python, bool mixed)
    {
        string loadBefore = LoadAverage();
        string work = Directory.CreateTempSubdirectory("i3d-train-bench").FullName;
        string weights = Path.Combine(work, "rgb.pt"), clips = Path.Combine(work, "clips.npy"), labelsPath = Path.Combine(work, "labels.npy");
        set_num_threads(threads);

        manual_seed(1);
        using var net = new InceptionI3d(classes, 3);
        ModuleWeights.Save(net, weights);
        var gen = new Random(2);
        var data = new float[batch * frames * size * size * 3];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(gen.NextDouble() * 2 - 1);
        Npy.Write(clips, data, batch, frames, size, size, 3);
        var labels = Enumerable.Range(0, batch).Select(i => (long)((i * 37 + 3) % classes)).ToArray();
        Npy.Write(labelsPath, labels.Select(l => (float)l).ToArray(), batch);
        using var x = tensor(data, [batch, frames, size, size, 3]).permute(0, 4, 1, 2, 3).contiguous();
        using var y = tensor(labels);

        var dropout = net.named_modules().Single(m => m.name == "dropout").module;
        using var sgd = optim.SGD(net.parameters(), 0.01, 0.9);
        net.train(); // BatchNorm on batch statistics, dropout on
        // The mixed-precision contestant, only with --mixed.
        using var mixedNet = mixed ? new InceptionI3d(classes, 3) : null;
        if (mixedNet is not null) ModuleWeights.Load(mixedNet, [.. net.state_dict()], "the float32 network", "InceptionI3d");
        var mixedDropout = mixedNet?.named_modules().Single(m => m.name == "dropout").module;
        using var mixedSgd = mixedNet is null ? null : optim.SGD(mixedNet.parameters(), 0.01, 0.9);
        mixedNet?.train();

        Process? py = null;
        string pyVersion = "";
        if (python)
        {
            string script = Path.Combine(AppContext.BaseDirectory, "bench_network.py");
            var psi = new ProcessStartInfo("/usr/bin/python3", $"\"{script}\" --train-step \"{weights}\" \"{clips}\" \"{labelsPath}\" {classes} {threads}")
            { RedirectStandardOutput = true, RedirectStandardInput = true };
            py = Process.Start(psi)!;
            using var hello = JsonDocument.Parse(py.StandardOutput.ReadLine() ?? throw new InvalidOperationException("bench_network.py --train-step failed to start"));
            pyVersion = hello.RootElement.GetProperty("version").GetString()!;
        }

        // Steps 1 and 2 (untimed, also the warm-up): dropout off, for the loss parity check (step 1: same weights and
        // batch; step 2: after one SGD update from each side's own gradients). Then dropout on, `steps` timed steps.
        var csLoss = new List<double>();
        var pyLoss = new List<double>();
        var csTime = new List<double>();
        var pyTime = new List<double>();
        var csParts = new List<double[]>();
        var pyParts = new List<double[]>();
        var mxLoss = new List<double>();
        var mxTime = new List<double>();
        var mxParts = new List<double[]>();
        for (int step = 0; step < steps + 2; step++)
        {
            bool parity = step < 2;
            if (parity) dropout.eval(); else dropout.train();
            // Each contestant's dropout draws from the same seed at the same step.
            manual_seed(1000 + step);
            var (seconds, loss, parts) = Step(net, sgd, x, y, null);
            if (mixed)
            {
                if (parity) mixedDropout!.eval(); else mixedDropout!.train();
                manual_seed(1000 + step);
                var (mxSeconds, mxLossValue, mxPart) = Step(mixedNet!, mixedSgd!, x, y, ScalarType.BFloat16);
                if (parity) mxLoss.Add(mxLossValue); else { mxTime.Add(mxSeconds); mxParts.Add(mxPart); }
                Console.Error.WriteLine($"step {step + 1}: TorchSharp mixed precision {mxSeconds:0.000} s loss {mxLossValue:0.000000}");
            }
            double pySeconds = 0, pyLossValue = double.NaN;
            double[] pyPart = [0, 0, 0];
            if (py is not null) (pySeconds, pyLossValue, pyPart) = PythonStep(py, dropout: !parity);
            if (parity) { csLoss.Add(loss); pyLoss.Add(pyLossValue); }
            else { csTime.Add(seconds); pyTime.Add(pySeconds); csParts.Add(parts); pyParts.Add(pyPart); }
            Console.Error.WriteLine($"step {step + 1}{(parity ? " (dropout off, untimed)" : "")}: TorchSharp {seconds:0.000} s loss {loss:0.000000}" +
                (py is null ? "" : $"; python3-torch {pySeconds:0.000} s loss {pyLossValue:0.000000}"));
        }
        if (py is not null)
        {
            py.StandardInput.WriteLine("quit");
            py.WaitForExit();
            if (py.ExitCode != 0) throw new InvalidOperationException("bench_network.py --train-step failed");
            py.Dispose();
        }
        string loadAfter = LoadAverage();

        Console.WriteLine($"RGB InceptionI3d ({classes} classes), one training step on a batch {batch}x3x{frames}x{size}x{size}: forward (train mode: " +
            $"BatchNorm on batch statistics, dropout 0.5), cross-entropy on the time-averaged logits, backward, SGD lr 0.01 momentum 0.9; " +
            $"{threads} threads each; {steps} timed steps after 2 untimed ones, the two alternating step by step; {Environment.ProcessorCount} cores; " +
            $"load average (1, 5, 15 min) {loadBefore} before, {loadAfter} after");
        Console.WriteLine();
        Console.WriteLine("| implementation | median s/step | best s/step | vs python3-torch (median) | median forward + loss / backward / SGD step (s) |");
        Console.WriteLine("|---|---|---|---|---|");
        double csMedian = Statistics.Median(csTime);
        double? pyMedian = python ? Statistics.Median(pyTime) : null;
        Console.WriteLine($"| TorchSharp 0.107 (libtorch 2.10) float32, {threads} threads | {csMedian:0.000} | {csTime.Min():0.000} | {(pyMedian is null ? "-" : $"{pyMedian / csMedian:0.00}x")} | {PartMedians(csParts)} |");
        if (pyMedian is not null)
            Console.WriteLine($"| python3-torch {pyVersion} float32, {threads} threads (reference module) | {pyMedian:0.000} | {pyTime.Min():0.000} | 1.00x | {PartMedians(pyParts)} |");
        if (mixed)
        {
            double mxMedian = Statistics.Median(mxTime);
            Console.WriteLine($"| TorchSharp mixed precision (bfloat16 convolutions, float32 weights), {threads} threads | {mxMedian:0.000} | {mxTime.Min():0.000} | {(pyMedian is null ? "-" : $"{pyMedian / mxMedian:0.00}x")} | {PartMedians(mxParts)} |");
            Console.WriteLine();
            Console.WriteLine($"Mixed precision vs float32 (median step): {csMedian / mxMedian:0.00}x; loss at step 1 {mxLoss[0]:0.0000000} vs {csLoss[0]:0.0000000} " +
                $"(relative {Math.Abs(mxLoss[0] - csLoss[0]) / Math.Abs(csLoss[0]):E1}), step 2 {mxLoss[1]:0.0000000} vs {csLoss[1]:0.0000000} (relative {Math.Abs(mxLoss[1] - csLoss[1]) / Math.Abs(csLoss[1]):E1})");
            Console.WriteLine($"Per-step seconds, mixed precision: {string.Join(" ", mxTime.Select(t => t.ToString("0.000", CultureInfo.InvariantCulture)))}");
        }
        Console.WriteLine();
        if (python)
            for (int i = 0; i < 2; i++)
                Console.WriteLine($"Loss parity, step {i + 1} ({(i == 0 ? "same weights and batch" : "after one SGD step each")}; dropout off, BatchNorm in training mode): " +
                    $"TorchSharp {csLoss[i]:0.0000000}, python3-torch {pyLoss[i]:0.0000000}, relative difference {Math.Abs(csLoss[i] - pyLoss[i]) / Math.Abs(pyLoss[i]):E1}");
        Console.WriteLine($"Per-step seconds, TorchSharp: {string.Join(" ", csTime.Select(t => t.ToString("0.000", CultureInfo.InvariantCulture)))}");
        if (python) Console.WriteLine($"Per-step seconds, python3-torch: {string.Join(" ", pyTime.Select(t => t.ToString("0.000", CultureInfo.InvariantCulture)))}");
        Directory.Delete(work, true);
        return 0;
    }

    private static (double Seconds, double Loss, double[] Parts) Step(InceptionI3d net, SGD sgd, Tensor x, Tensor y, ScalarType? mixed)
    {
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        sgd.zero_grad();
        // As the trainer's step: the scope around forward and backward, the architecture's loss (float32 logits).
        using var precision = MixedPrecision.Use(mixed);
        var loss = VideoBackbones.InceptionI3d.Loss(net, x, y);
        double forward = sw.Elapsed.TotalSeconds;
        loss.backward();
        double backward = sw.Elapsed.TotalSeconds;
        sgd.step();
        double seconds = sw.Elapsed.TotalSeconds;
        return (seconds, loss.item<float>(), [forward, backward - forward, seconds - backward]);
    }

    private static (double Seconds, double Loss, double[] Parts) PythonStep(Process py, bool dropout)
    {
        py.StandardInput.WriteLine(dropout ? "step dropout" : "step");
        py.StandardInput.Flush();
        string line = py.StandardOutput.ReadLine() ?? throw new InvalidOperationException("bench_network.py --train-step stopped");
        using var doc = JsonDocument.Parse(line);
        var parts = doc.RootElement.GetProperty("parts").EnumerateArray().Select(p => p.GetDouble()).ToArray();
        return (doc.RootElement.GetProperty("seconds").GetDouble(), doc.RootElement.GetProperty("loss").GetDouble(), parts);
    }

    private static string PartMedians(List<double[]> parts) =>
        string.Join(" / ", Enumerable.Range(0, 3).Select(i => Statistics.Median([.. parts.Select(p => p[i])]).ToString("0.000", CultureInfo.InvariantCulture)));

    private static string LoadAverage() => string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
}
