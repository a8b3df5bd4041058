using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Architectures.ArchitectureTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>The paper's other four architectures and their Inception-v1 backbone: parameter counts, shapes, input checks.</summary>
public sealed class ArchitecturesTests(ITestOutputHelper log)
{
    /// <summary>Parameter counts with 400 classes vs the spec's arithmetic on the definitions (Table 1: 9M, 79M, 12M, 39M).</summary>
    [Fact]
    public void ParameterCountsWith400ClassesMatchThePaper()
    {
        void Check(string name, long count, double expected)
        {
            double rel = Math.Abs(count - expected) / expected;
            log.WriteLine($"{name}: {count:N0} parameters (expected ~{expected / 1e6:0.00}M, {rel:P2} off)");
            Assert.True(rel < 0.03, $"{name}: {count} parameters, expected ~{expected}");
        }
        using (var rgb = new TwoStream2d(400, 3))
        using (var flow = new TwoStream2d(400, 2))
        {
            log.WriteLine($"TwoStream2d RGB tower {Parameters(rgb):N0}, flow tower {Parameters(flow):N0}");
            Check("Two-Stream (both towers)", Parameters(rgb) + Parameters(flow), 12.07e6);
        }
        using (var c3d = new C3D(400)) Check("C3D", Parameters(c3d), 79.6e6);
        using (var lstm = new ConvNetLstm(400)) Check("ConvNet+LSTM", Parameters(lstm), 8.95e6);
        using (var fused = new Fused3dTwoStream(400)) Check("3D-Fused Two-Stream", Parameters(fused), 39.8e6);
        using (var g = new InceptionV1(1000)) Check("InceptionV1 (1000 classes, torchvision GoogLeNet without aux)", Parameters(g), 6_624_904);
    }

    [Fact]
    public void InceptionV1HasTorchvisionKeys()
    {
        using var g = new InceptionV1(1000);
        var keys = g.state_dict().Keys.ToHashSet();
        foreach (var k in new[] { "conv1.conv.weight", "conv1.bn.running_mean", "conv1.bn.num_batches_tracked", "conv3.bn.weight",
                     "inception3a.branch1.conv.weight", "inception3a.branch2.0.conv.weight", "inception3a.branch2.1.bn.bias",
                     "inception4b.branch3.1.conv.weight", "inception5b.branch4.1.conv.weight", "fc.weight", "fc.bias" })
            Assert.Contains(k, keys);
        Assert.Equal([24L, 512, 1, 1], g.state_dict()["inception4b.branch3.0.conv.weight"].shape);
        Assert.Equal([64L, 24, 3, 3], g.state_dict()["inception4b.branch3.1.conv.weight"].shape);
        Assert.Equal(InceptionV1.ClassifierPrefix, "fc.");
    }

    [SkippableFact]
    public void InceptionV1MatchesTorchvisionGoogLeNet()
    {
        Skip.IfNot(File.ReadAllText(PythonFixtures.PathOf("MANIFEST")).Contains("googlenet_2d", StringComparison.Ordinal), "python3-torchvision absent: no GoogLeNet fixture");
        using var net = new InceptionV1(1000);
        net.LoadGoogLeNet(PythonFixtures.PathOf("googlenet_2d.pt"));
        net.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = TestPaths.Load(PythonFixtures.PathOf("googlenet_2d_input.npy"));
        var expected = TestPaths.Load(PythonFixtures.PathOf("googlenet_2d_logits.npy"));
        var logits = net.forward(x);
        Assert.Equal([2L, 1000], logits.shape);
        double err = TestPaths.RelativeL2(logits, expected);
        double between = TestPaths.RelativeL2(expected[0], expected[1]);
        log.WriteLine($"InceptionV1 vs torchvision GoogLeNet, batch 2 x 3 x 224 x 224: relative L2 {err:E2} (the two images' logits differ by {between:E2})");
        Assert.True(between > 0.1, "degenerate fixture: both images give the same logits");
        Assert.True(err < 1e-4, $"relative error {err}");
        Assert.Equal([2L, 1024, 7, 7], net.FeatureMap(x).shape);
        Assert.Equal([2L, 1024], net.Features(x).shape);

        // A flow tower from the same weights: conv1 = the RGB kernel averaged over channels, replicated 20 times (TSN).
        using var flow = TwoStream2d.FromImageNet(PythonFixtures.PathOf("googlenet_2d.pt"), numClasses: 5, inChannels: 2);
        var w = flow.Tower.state_dict()["conv1.conv.weight"];
        Assert.Equal([64L, 20, 7, 7], w.shape);
        var rgbMean = net.state_dict()["conv1.conv.weight"].mean([1], keepdim: true);
        Assert.True(w.allclose(rgbMean.expand(64, 20, 7, 7), rtol: 1e-6, atol: 1e-8));
        Assert.True(flow.Tower.state_dict()["inception4b.branch3.1.conv.weight"].equal(net.state_dict()["inception4b.branch3.1.conv.weight"]).all().item<bool>());
        Assert.Equal([5L, 1024], flow.Tower.state_dict()["fc.weight"].shape);
    }

    [Fact]
    public void OutputShapes()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(1);
        using (var g = new InceptionV1(7))
        {
            g.eval();
            var x = Clip(2, 3, 112, 112);
            Assert.Equal([2L, 7], g.forward(x).shape);
            Assert.Equal([2L, 1024, 4, 4], g.FeatureMap(x).shape);
        }
        using (var rgb = new TwoStream2d(7, 3))
        {
            rgb.eval();
            Assert.Equal([2L, 7], rgb.forward(Clip(2, 3, 3, 64, 64)).shape);
            Assert.Equal([2L, 3, 7], rgb.SnapshotLogits(Clip(2, 3, 3, 64, 64)).shape);
        }
        using (var flow = new TwoStream2d(7, 2))
        {
            flow.eval();
            Assert.Equal([2L, 7], flow.forward(Clip(2, 2, 20, 64, 64)).shape);
            Assert.Equal([2L, 2, 7], flow.SnapshotLogits(Clip(2, 2, 20, 64, 64)).shape);
        }
        using (var lstm = new ConvNetLstm(7))
        {
            lstm.eval();
            var x = Clip(2, 3, 4, 64, 64);
            var last = lstm.forward(x);
            var perTime = lstm.PerTimeLogits(x);
            Assert.Equal([2L, 7], last.shape);
            Assert.Equal([2L, 4, 7], perTime.shape);
            Assert.True(last.allclose(perTime.select(1, 3), rtol: 1e-5, atol: 1e-6));
        }
        using (var fused = new Fused3dTwoStream(7, snippets: 2))
        {
            fused.eval();
            var x = Clip(2, 5, 20, 64, 64);
            Assert.Equal([2L, 7], fused.forward(x).shape);
            Assert.Equal([2L, 512, 2, 2, 2], fused.Fused(x).shape);
        }
        using (var c3d = new C3D(7))
        {
            c3d.eval();
            Assert.Equal([2L, 7], c3d.forward(Clip(2, 3, 16, 112, 112)).shape);
        }
    }

    [Fact]
    public void WrongShapesNameTheArchitectureAndTheExpectedShape()
    {
        using var scope = NewDisposeScope();
        string Message(Func<Tensor> f) => Assert.Throws<ArgumentException>(() => f()).Message;
        using var c3d = new C3D(4);
        Assert.Equal("C3D takes clips (N, 3, 16, 112, 112), not (2, 3, 8, 112, 112)", Message(() => c3d.forward(zeros([2, 3, 8, 112, 112]))));
        using var rgb = new TwoStream2d(4, 3);
        Assert.Equal("TwoStream2d (RGB) takes clips (N, 3, T, H, W), not (2, 2, 4, 64, 64)", Message(() => rgb.forward(zeros([2, 2, 4, 64, 64]))));
        using var flow = new TwoStream2d(4, 2);
        Assert.Equal("TwoStream2d (optical flow) takes clips (N, 2, T, H, W) with T a multiple of 10, not (2, 2, 7, 64, 64)", Message(() => flow.forward(zeros([2, 2, 7, 64, 64]))));
        using var lstm = new ConvNetLstm(4);
        Assert.Equal("ConvNetLstm takes clips (N, 3, T, H, W), not (2, 3, 64, 64)", Message(() => lstm.forward(zeros([2, 3, 64, 64]))));
        using var fused = new Fused3dTwoStream(4, snippets: 2);
        Assert.Equal("Fused3dTwoStream takes clips (N, 5, 20, H, W) (channels 0-2 RGB, 3-4 optical flow; 2 snippets of 10 frames), not (2, 5, 50, 64, 64)", Message(() => fused.forward(zeros([2, 5, 50, 64, 64]))));
        using var g = new InceptionV1(4);
        Assert.Equal("InceptionV1 takes images (N, 3, H, W), not (2, 3, 1, 64, 64)", Message(() => g.forward(zeros([2, 3, 1, 64, 64]))));
    }

    [Fact]
    public void FlowStacksInterleaveXAndYPerFrame()
    {
        using var scope = NewDisposeScope();
        // clip[n, c, t] = 100 n + 10 t + c: stack s of 10 frames holds x_t, y_t for t = 10 s .. 10 s + 9, in that order.
        float[] values = [.. Enumerable.Range(0, 2 * 2 * 20).Select(i => 100f * (i / 40) + 10 * (i % 20) + i / 20 % 2)];
        var clip = tensor(values).view(2, 2, 20, 1, 1).expand(2, 2, 20, 3, 3);
        var stacks = InceptionV1.FlowStacks(clip, 10);
        Assert.Equal([4L, 20, 3, 3], stacks.shape);
        for (int n = 0; n < 2; n++)
            for (int s = 0; s < 2; s++)
                for (int ch = 0; ch < 20; ch++)
                    Assert.Equal(100 * n + 10 * (10 * s + ch / 2) + ch % 2, stacks[2 * n + s, ch, 0, 0].item<float>());
    }

    [Fact]
    public void RgbTowerAveragesSnapshotsAndFusedSeesOnlyCentreFrames()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(2);
        using var rgb = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new TwoStream2d(5, 3), 3);
        var x = Clip(2, 3, 3, 64, 64);
        var perFrame = stack([.. Enumerable.Range(0, 3).Select(t => rgb.Tower.forward(x.select(2, t)))], 1).mean([1]);
        var averaged = rgb.forward(x);
        log.WriteLine($"RGB tower: clip average vs frame by frame: relative L2 {TestPaths.RelativeL2(averaged, perFrame):E2}, logits {averaged.abs().max().item<float>():G3} at most");
        Assert.True(TestPaths.RelativeL2(averaged, perFrame) < 1e-5);

        using var fused = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new Fused3dTwoStream(5, snippets: 2), 4);
        var clip = Clip(2, 5, 20, 64, 64);
        var before = fused.forward(clip);
        var changed = clip.clone();
        // RGB frames other than the centre frames 5 and 15 do not count.
        changed[.., 0..3, 0..5] = Clip(2, 3, 5, 64, 64);
        changed[.., 0..3, 6..15] = Clip(2, 3, 9, 64, 64);
        changed[.., 0..3, 16..20] = Clip(2, 3, 4, 64, 64);
        Assert.True(fused.forward(changed).allclose(before, rtol: 1e-5, atol: 1e-6));
        changed[.., 0..3, 15] = Clip(2, 3, 64, 64);
        Assert.False(fused.forward(changed).allclose(before, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void LstmLogitsAreCausal()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(3);
        using var lstm = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new ConvNetLstm(5), 5);
        var x = Clip(2, 3, 3, 64, 64);
        var a = lstm.PerTimeLogits(x);
        var y = x.clone();
        y[.., .., 2] = Clip(2, 3, 64, 64);
        var b = lstm.PerTimeLogits(y);
        Assert.True(a[.., 0..2].allclose(b[.., 0..2], rtol: 1e-5, atol: 1e-6), "steps 0-1 changed with frame 2");
        Assert.False(a[.., 2].allclose(b[.., 2], rtol: 1e-5, atol: 1e-6), "step 2 ignores frame 2");
    }
}
