using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>
/// No number reaches libtorch in a temporary Scalar (HeldScalars' remarks: the finalizer may free it mid-call; CI saw
/// "toDouble ... Expected false to be true"); and the held replacements compute what TorchSharp's own do, bit for bit.
/// </summary>
public class HeldScalarRuleTests(ITestOutputHelper output)
{
    private static readonly TemporaryScalarScanner Scanner = new(typeof(torch).Assembly.Location);

    [Fact]
    public void NoAssemblyOfOursHandsLibtorchATemporaryScalar()
    {
        var assemblies = Directory.GetFiles(AppContext.BaseDirectory, "I3D.MLNet*.dll").Append(typeof(HeldScalars).Assembly.Location).Distinct().ToList();
        Assert.Contains(assemblies, a => a.EndsWith("I3D.MLNet.Torch.dll", StringComparison.Ordinal));
        // This class alone uses TorchSharp's BatchNorm3d and SGD: the references the held ones are compared with.
        var offences = assemblies.SelectMany(a => Scanner.Scan(a, type => !type.Contains(nameof(HeldScalarRuleTests), StringComparison.Ordinal))
            .Select(o => $"{Path.GetFileName(a)}: {o}")).ToList();
        foreach (var o in offences) output.WriteLine(o);
        Assert.True(offences.Count == 0, $"{offences.Count} calls make a temporary Scalar (use HeldScalars, HeldBatchNorm, HeldSgd):\n{string.Join("\n", offences)}");
    }

    [Fact]
    public void TheScannerFindsEachKindOfTemporaryScalar()
    {
        Assert.Contains("TorchSharp.Modules.BatchNorm3d", Scanner.TaintedTypes);
        Assert.Contains("TorchSharp.Modules.SGD", Scanner.TaintedTypes);
        var found = Scanner.Scan(typeof(Counterexamples).Assembly.Location, type => type.EndsWith(nameof(Counterexamples), StringComparison.Ordinal));
        foreach (var f in found) output.WriteLine(f);
        string[] expected =
        [
            "Implicit calls TorchSharp.Scalar::op_Implicit(Int32)",
            "DefaultAlpha calls TorchSharp.torch+Tensor::op_Addition(TorchSharp.torch+Tensor,TorchSharp.torch+Tensor)",
            "NumberOperand calls TorchSharp.torch+Tensor::op_Multiply(TorchSharp.torch+Tensor,Double)",
            "TorchSharpBatchNorm calls TorchSharp.torch+nn::BatchNorm3d(",
            "TorchSharpSgd calls TorchSharp.torch+optim::SGD(",
        ];
        foreach (var e in expected) Assert.Contains(found, f => f.Contains(e, StringComparison.Ordinal));
        Assert.Equal(expected.Length, found.Count);
    }

    [Fact]
    public void HeldBatchNormTrainsAndScoresAsTorchSharpsBatchNorm3d()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        using var ours = HeldBatchNorm.Over3d(6, eps: 1e-3, momentum: 0.01);
        using var theirs = nn.BatchNorm3d(6, eps: 1e-3, momentum: 0.01);
        Assert.Equal(theirs.state_dict().Keys.Order(), ours.state_dict().Keys.Order());
        for (int step = 0; step < 3; step++)
        {
            var x = empty([2, 6, 3, 4, 5]).uniform_(-2, 3, generator);
            Assert.True(Same(theirs.forward(x), ours.forward(x)), $"training output, step {step}");
        }
        // momentum null: the cumulative average over the batches seen (the trainer's precise statistics).
        ours.momentum = theirs.momentum = null;
        for (int step = 0; step < 2; step++)
        {
            var x = empty([2, 6, 3, 4, 5]).normal_(0.5, 2, generator);
            Assert.True(Same(theirs.forward(x), ours.forward(x)), $"cumulative output, step {step}");
        }
        foreach (var key in theirs.state_dict().Keys) Assert.True(Same(theirs.state_dict()[key], ours.state_dict()[key]), key);
        Assert.Equal(5L, ours.num_batches_tracked!.item<long>());
        ours.eval();
        theirs.eval();
        var y = empty([1, 6, 2, 3, 3]).uniform_(-1, 1, generator);
        Assert.True(Same(theirs.forward(y), ours.forward(y)), "eval output");
        var e = Assert.Throws<ArgumentException>(() => ours.forward(empty([2, 6, 3])));
        Assert.Contains("(N, C, T, H, W)", e.Message);
        Assert.Contains("2, 6, 3", e.Message);
    }

    [Theory]
    [InlineData(0.9, 1e-4)]
    [InlineData(0.0, 0.0)]
    public void HeldSgdStepsAsTorchSharpsSgdAndSavesTheSameState(double momentum, double weightDecay)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        using var ours = nn.Linear(5, 3);
        using var theirs = nn.Linear(5, 3);
        using (no_grad()) foreach (var (a, b) in ours.parameters().Zip(theirs.parameters())) b.copy_(a);
        using var heldSgd = new HeldSgd.SGD(ours.parameters(), 0.05, momentum, weightDecay);
        using var sgd = optim.SGD(theirs.parameters(), 0.05, momentum, weight_decay: weightDecay);
        for (int step = 0; step < 4; step++)
        {
            var x = empty([4, 5]).uniform_(-1, 1, generator);
            foreach (var (module, optimizer) in new (Linear, SGD)[] { (ours, heldSgd), (theirs, sgd) })
            {
                optimizer.zero_grad();
                module.forward(x).pow(2).sum().backward();
                optimizer.step();
            }
            if (step == 2) foreach (var o in new SGD[] { heldSgd, sgd }) foreach (var g in o.ParamGroups) g.LearningRate = 0.005;
        }
        foreach (var (a, b) in ours.parameters().Zip(theirs.parameters())) Assert.True(Same(a, b), "parameters after 4 steps");
        using var ourState = new MemoryStream();
        using var theirState = new MemoryStream();
        using (var w = new BinaryWriter(ourState, System.Text.Encoding.UTF8, leaveOpen: true)) heldSgd.save_state_dict(w);
        using (var w = new BinaryWriter(theirState, System.Text.Encoding.UTF8, leaveOpen: true)) sgd.save_state_dict(w);
        Assert.Equal(theirState.ToArray(), ourState.ToArray());
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>One call of each kind the rule forbids, for the scanner's own test (never run).</summary>
    private static class Counterexamples
    {
        public static Tensor Implicit(Tensor t) => t.fill_(1);
        public static Tensor DefaultAlpha(Tensor a, Tensor b) => a + b;
        public static Tensor NumberOperand(Tensor a) => a * 2.0;
        public static BatchNorm TorchSharpBatchNorm() => nn.BatchNorm3d(4);
        public static SGD TorchSharpSgd(Linear l) => optim.SGD(l.parameters(), 0.1);
    }
}
