using System.Diagnostics;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>
/// Short training runs on a separable synthetic task (class 0: dark clips, class 1: bright clips, plus noise): the loss
/// falls and the classes separate. Every parameter trains (end to end), BatchNorm in training mode.
/// </summary>
public sealed class ArchitectureTrainingTests(ITestOutputHelper log)
{
    /// <summary>A batch of clips: half dark (-0.4), half bright (+0.4), with uniform noise of +-0.5; labels 0 / 1.</summary>
    private static (Tensor Clips, Tensor Labels) Task(long batch, long channels, long frames, long size)
    {
        var labels = tensor(Enumerable.Range(0, (int)batch).Select(i => (long)(i % 2)).ToArray());
        var level = tensor(Enumerable.Range(0, (int)batch).Select(i => i % 2 == 0 ? -0.4f : 0.4f).ToArray()).view(batch, 1, 1, 1, 1);
        using var low = (-1.0).ToScalar();
        using var high = 1.0.ToScalar();
        var clips = empty([batch, channels, frames, size, size]).uniform_(-0.5, 0.5).PlusInPlace(level).clamp_(low, high);
        return (clips, labels);
    }

    private (double First, double Last) Train(string what, nn.Module<Tensor, Tensor> net, Tensor clips, Tensor labels, int steps, double lr,
        IEnumerable<TorchSharp.Modules.Parameter>? parameters = null)
    {
        var watch = Stopwatch.StartNew();
        net.train();
        using var optimizer = new HeldAdam(parameters ?? net.parameters(), lr);
        double first = 0, last = 0;
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(net.forward(clips), labels);
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        log.WriteLine($"{what}: loss {first:F3} -> {last:F3} in {steps} Adam steps (lr {lr}), {watch.Elapsed.TotalSeconds:F1} s");
        return (first, last);
    }

    /// <summary>
    /// C3D in the paper's "Fixed" mode (Table 4: only the classifier trains; <see cref="C3D.ClassifierPrefix"/>):
    /// end-to-end steps cost ~10 s each at 16 x 112 x 112 on this 2-core machine (measured: 4 steps, 39 s), too slow here.
    /// </summary>
    [Fact]
    public void C3DClassifierLearnsASeparableTask()
    {
        manual_seed(70);
        using var net = new C3D(numClasses: 2);
        foreach (var (name, p) in net.named_parameters())
            p.requires_grad = name.StartsWith(C3D.ClassifierPrefix, StringComparison.Ordinal);
        using var scope = NewDisposeScope();
        var (clips, labels) = Task(2, 3, C3D.Frames, C3D.Size);
        var trained = net.parameters().Where(p => p.requires_grad).ToList();
        Assert.Equal(2, trained.Count); // fc8.weight, fc8.bias
        var (first, last) = Train("C3D (fc8 only) 2 x 3 x 16 x 112 x 112", net, clips, labels, steps: 4, lr: 1e-3, trained);
        Assert.True(last < first * 0.5, $"loss {first} -> {last}");
    }

    [Fact]
    public void TwoStream2dRgbLearnsASeparableTask()
    {
        manual_seed(71);
        using var net = new TwoStream2d(numClasses: 2, inChannels: 3);
        using var scope = NewDisposeScope();
        var (clips, labels) = Task(4, 3, 2, 32);
        var (first, last) = Train("TwoStream2d RGB 4 x 3 x 2 x 32 x 32", net, clips, labels, steps: 8, lr: 1e-3);
        Assert.True(last < first * 0.5, $"loss {first} -> {last}");
        // The trained tower separates fresh clips of the task in training mode (batch statistics; 8 steps leave the running
        // statistics far from settled).
        using var _ = no_grad();
        var (test, testLabels) = Task(4, 3, 2, 32);
        Assert.True(net.forward(test).argmax(1).equal(testLabels).all().item<bool>(), "fresh clips misclassified");
    }

    [Fact]
    public void ConvNetLstmLearnsFromEveryTimeStep()
    {
        const int Frames = 2, Steps = 10;
        manual_seed(72);
        using var net = new ConvNetLstm(numClasses: 2);
        using var scope = NewDisposeScope();
        var (clips, labels) = Task(4, 3, Frames, 32);
        var watch = Stopwatch.StartNew();
        net.train();
        using var optimizer = new HeldAdam(net.parameters(), 2e-3);
        double first = 0, last = 0;
        for (int step = 0; step < Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            // Section 2.1: cross-entropy at every time step.
            var perTime = net.PerTimeLogits(clips);
            var loss = nn.functional.cross_entropy(perTime.reshape(-1, 2), labels.repeat_interleave(Frames));
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        log.WriteLine($"ConvNetLstm 4 x 3 x {Frames} x 32 x 32: per-step loss {first:F3} -> {last:F3} in {Steps} Adam steps (lr 2e-3), {watch.Elapsed.TotalSeconds:F1} s");
        Assert.True(last < first * 0.5, $"loss {first} -> {last}");
    }
}
