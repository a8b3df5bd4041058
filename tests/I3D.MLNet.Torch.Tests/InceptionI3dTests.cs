using I3D.MLNet.IO;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Models;
using static TorchSharp.torch;

using I3D.MLNet.Tests.Shared;

namespace I3D.MLNet.Torch.Tests;

public class InceptionI3dTests
{
    private static long Count(IEnumerable<(string Name, Tensor T)> tensors, Func<string, bool> keep) =>
        tensors.Where(t => keep(t.Name)).Sum(t => t.T.numel());

    [Theory]
    // Learned parameters: convolution weights, BatchNorm scale and shift, the logits bias (the paper's counting).
    [InlineData(3, 12_697_264L, 12_711_824L)]
    [InlineData(2, 12_675_312L, 12_689_872L)]
    public void ParameterCountsMatchThePaper(int inChannels, long parameters, long withRunningStats)
    {
        using var net = new InceptionI3d(400, inChannels);
        var learned = net.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        Assert.Equal(parameters, Count(learned, _ => true));
        // Plus BatchNorm's running mean and variance (state_dict buffers, not learned): 2 x 7,280 channels
        // (stem 320, Mixed_3b..5c 368 + 640 + 624 + 648 + 664 + 704 + 1024 + 1024 + 1264).
        var buffers = net.named_buffers().Select(b => (b.name, b.buffer)).ToList();
        Assert.Equal(withRunningStats, parameters + Count(buffers, n => n.EndsWith("running_mean") || n.EndsWith("running_var")));
    }

    [Fact]
    public void StateDictKeysAreTheReferenceNames()
    {
        using var net = new InceptionI3d();
        var keys = net.state_dict().Keys.ToHashSet();
        Assert.Contains("Conv3d_1a_7x7.conv3d.weight", keys);
        Assert.Contains("Mixed_4b.b1b.bn.running_var", keys);
        Assert.Contains("Mixed_5c.b3b.bn.bias", keys);
        Assert.Contains("logits.conv3d.bias", keys);
        Assert.DoesNotContain("Conv3d_1a_7x7.conv3d.bias", keys);
        // 57 convolutions with BatchNorm (4 + 9 modules x 6) and the logits layer.
        Assert.Equal(57, keys.Count(k => k.EndsWith(".bn.running_var")));
        Assert.Equal(58, keys.Count(k => k.EndsWith(".conv3d.weight")));
    }

    [Fact]
    public void EndpointsGiveTheDocumentedShapes()
    {
        using var net = new InceptionI3d(7, 3);
        net.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = empty([1, 3, 16, 112, 112]).uniform_(-1, 1);
        Assert.Equal([1L, 64, 8, 56, 56], net.Endpoint(x, "Conv3d_1a_7x7").shape);
        Assert.Equal([1L, 480, 8, 14, 14], net.Endpoint(x, "Mixed_3c").shape);
        Assert.Equal([1L, 1024, 2, 4, 4], net.Endpoint(x, "Mixed_5c").shape);
        Assert.Equal([1L, InceptionI3d.FeatureChannels], net.Features(x).shape);
        Assert.Equal([1L, 7, 1], net.PerTimeLogits(x).shape);
        Assert.Equal([1L, 7], net.forward(x).shape);
        Assert.Throws<ArgumentException>(() => { net.Endpoint(x, "Mixed_9z"); });
        var both = net.Endpoints(x, "Mixed_4f", "Logits");
        Assert.Equal([1L, 832, 4, 7, 7], both["Mixed_4f"].shape);
        Assert.True(both["Logits"].allclose(net.PerTimeLogits(x), rtol: 1e-5, atol: 1e-6));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(8)]
    public void ShortClipsAreLoopedToNineFrames(int frames)
    {
        using var net = new InceptionI3d(5, 3);
        net.eval();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = empty([1, 3, frames, 64, 64]).uniform_(-1, 1);
        var looped = x.index_select(2, tensor(Enumerable.Range(0, 9).Select(i => (long)(i % frames)).ToArray()));
        var y = net.forward(x);
        Assert.Equal([1L, 5], y.shape);
        Assert.True(y.isfinite().all().item<bool>());
        Assert.True(TestPaths.RelativeL2(y, net.forward(looped)) < 1e-6);
    }

    [Fact]
    public void FlowClipIntoRgbNetworkIsAClearError()
    {
        using var net = new InceptionI3d(5, 3);
        using var x = zeros([1, 2, 9, 64, 64]);
        var e = Assert.Throws<ArgumentException>(() => { net.forward(x); });
        Assert.Contains("2 channels (optical flow)", e.Message);
        Assert.Contains("takes 3 (RGB)", e.Message);
    }

    [Fact]
    public void NanAndOutOfRangeClipsAreRefused()
    {
        var data = new float[1 * 2 * 4 * 4 * 3];
        data[5] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => ClipTensor.FromKineticsLayout(new NpyArray([1, 2, 4, 4, 3], data), "clip.npy"));
        Assert.Contains("clip.npy", e.Message);
        Assert.Contains("NaN", e.Message);
        data[5] = 255f;
        e = Assert.Throws<ArgumentException>(() => ClipTensor.FromKineticsLayout(new NpyArray([1, 2, 4, 4, 3], data), "clip.npy"));
        Assert.Contains("[-1, 1]", e.Message);
        data[5] = 1f;
        using var ok = ClipTensor.FromKineticsLayout(new NpyArray([1, 2, 4, 4, 3], data), "clip.npy");
        Assert.Equal([1L, 3, 2, 4, 4], ok.shape);
    }
}

public class MaxPoolTests
{
    /// <summary>I3D's pools (kernel, stride): the Inception blocks', MaxPool3d_2a/3a's, 4a's and 5a's.</summary>
    public static TheoryData<long[], long[]> Pools => new()
    {
        { [3, 3, 3], [1, 1, 1] },
        { [1, 3, 3], [1, 2, 2] },
        { [3, 3, 3], [2, 2, 2] },
        { [2, 2, 2], [2, 2, 2] },
    };

    /// <summary>The slice-wise maximum (inference) equals libtorch's max_pool3d on TF-SAME zero-padded non-negative input.</summary>
    [Theory]
    [MemberData(nameof(Pools))]
    public void EqualsMaxPool3dOnPaddedInput(long[] kernel, long[] stride)
    {
        using var scope = NewDisposeScope();
        foreach (long[] shape in new[] { new long[] { 2, 5, 7, 11, 10 }, [1, 3, 8, 14, 15], [1, 2, 1, 1, 2] })
        {
            var x = rand(shape);
            var (pad, _) = TfSamePadding.ForInput(x.shape, kernel, stride);
            var expected = TorchSharp.torch.nn.functional.max_pool3d(TorchSharp.torch.nn.functional.pad(x, pad), kernel, stride);
            using var pool = new MaxPool3dSamePadding(kernel, stride);
            var actual = pool.forward(x);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(actual.equal(expected).all().item<bool>());
            // While autograd records (training), the pool is libtorch's max_pool3d itself: same values.
            var trained = pool.forward(x.detach().requires_grad_());
            Assert.True(trained.requires_grad);
            Assert.True(trained.equal(expected).all().item<bool>());
            Assert.True(trained.is_contiguous()); // the next convolution gets the layout its check measured
        }
    }

    /// <summary>
    /// Training's pool (libtorch's max_pool3d on a channels-last copy, symmetric padding the pool's own) routes the
    /// gradient as the reference's (zero padding, then max_pool3d): the same input gradient on positive input, and the
    /// same gradient through the ReLU before it where zeros tie (the reference may send a zero maximum's gradient into
    /// its padding, the pool's own padding to a zero of the input; the ReLU zeroes both).
    /// </summary>
    [Theory]
    [MemberData(nameof(Pools))]
    public void TrainingRoutesTheGradientAsTheReference(long[] kernel, long[] stride)
    {
        using var scope = NewDisposeScope();
        using var pool = new MaxPool3dSamePadding(kernel, stride);
        foreach (long[] shape in new[] { new long[] { 2, 5, 7, 11, 10 }, [2, 16, 8, 14, 14], [1, 2, 1, 1, 2] })
            foreach (bool relu in new[] { false, true })
            {
                // Private generators: tests running beside this one draw from the global one (the same upstream
                // gradient for both sides must not depend on them).
                using var inputs = new Generator((ulong)shape[1] + (relu ? 1UL : 0UL), CPU);
                var z = relu ? randn(shape, generator: inputs) : empty(shape).uniform_(0.1, 1.1, inputs);
                Tensor Gradient(Func<Tensor, Tensor> f)
                {
                    var input = z.detach().requires_grad_();
                    var y = f(relu ? input.relu() : input);
                    using var upstream = new Generator(7, CPU);
                    y.backward([randn(y.shape, generator: upstream)]);
                    return input.grad!.clone();
                }
                var (pad, _) = TfSamePadding.ForInput(shape, kernel, stride);
                var expected = Gradient(x => TorchSharp.torch.nn.functional.max_pool3d(TorchSharp.torch.nn.functional.pad(x, pad), kernel, stride));
                var actual = Gradient(pool.forward);
                Assert.True(actual.equal(expected).all().item<bool>(), $"shape {string.Join("x", shape)}, relu {relu}: max difference {(actual - expected).abs().max().item<float>()}");
            }
    }

    /// <summary>
    /// The gradient training's pool sends back is contiguous (N, C, T, H, W), in float32 and bfloat16: the layers before
    /// it (ReLU's backward, BatchNorm's, the branches' sums) run libtorch's vectorised loops only when it matches their
    /// own layout. Through a plain permute of its channels-last copy it kept channels-last strides.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void TrainingSendsBackAContiguousGradient(ScalarType type)
    {
        using var scope = NewDisposeScope();
        using var pool = new MaxPool3dSamePadding([3, 3, 3], [1, 1, 1]);
        var x = rand([2, 16, 4, 7, 7]).to(type).requires_grad_();
        var y = pool.forward(GradientProbe.apply(x));
        y.backward([ones_like(y)]);
        using var seen = GradientProbe.Seen!;
        GradientProbe.Seen = null;
        Assert.True(seen.is_contiguous(), $"strides {string.Join(", ", seen.stride())}");
        Assert.Equal(y.numel(), (long)seen.to(ScalarType.Float64).sum().item<double>()); // each output's gradient arrives once
    }
}

/// <summary>The identity, keeping the gradient that reaches it as autograd computed it (a leaf's or a retained
/// gradient is copied to the variable's own layout).</summary>
internal sealed class GradientProbe : autograd.SingleTensorFunction<GradientProbe>
{
    [ThreadStatic] public static Tensor? Seen;

    public override string Name => nameof(GradientProbe);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars) => ((Tensor)vars[0]).clone();

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        Seen = grad.alias().DetachFromDisposeScope();
        return [grad];
    }
}

public class BatchNormFoldingTests
{
    [Fact]
    public void FoldedBatchNormGivesTheSameLogits()
    {
        using var net = new InceptionI3d(6, 2);
        using var scope = NewDisposeScope();
        using (no_grad())
            foreach (var (name, buffer) in net.named_buffers())
                if (name.EndsWith("running_var")) buffer.uniform_(0.5, 2.0);
                else if (name.EndsWith("running_mean")) buffer.normal_(0, 0.1);
        net.eval();
        using var _ = no_grad();
        var x = empty([1, 2, 10, 64, 64]).uniform_(-1, 1);
        Assert.False(net.FoldBatchNormAtInference); // the default: the reference's order
        var separate = net.forward(x);
        net.FoldBatchNormAtInference = true;
        var folded = net.forward(x);
        Assert.True(TestPaths.RelativeL2(folded, separate) < 1e-5);
        Assert.False(separate.equal(folded).all().item<bool>()); // the folded path did run
    }
}

public class TfSamePaddingTests
{
    [Theory]
    // size, kernel, stride, front, back: output = ceil(size / stride); the odd row goes at the end (TensorFlow).
    [InlineData(224, 7, 2, 2, 3)]
    [InlineData(225, 7, 2, 3, 3)]
    [InlineData(112, 3, 2, 0, 1)]
    [InlineData(56, 3, 1, 1, 1)]
    [InlineData(16, 2, 2, 0, 0)]
    [InlineData(9, 3, 2, 1, 1)]
    [InlineData(1, 7, 2, 3, 3)]
    public void PadsLikeTensorFlowSame(long size, long kernel, long stride, long front, long back)
    {
        var (pad, symmetric) = TfSamePadding.ForInput([1, 1, size, 1, 1], [kernel, 1, 1], [stride, 1, 1]);
        Assert.Equal(front, pad[4]);
        Assert.Equal(back, pad[5]);
        Assert.Equal(front == back, symmetric);
        Assert.Equal((size + stride - 1) / stride, (size + front + back - kernel) / stride + 1);
    }
}
