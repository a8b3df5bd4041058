using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// Measures routes of one convolution shape against float64 on the same device: the forward result and the gradients
/// of the input, the weight and the bias, at batch 1 and batch 2 (the kernels that were seen wrong were right at batch
/// 1). The float64 reference is another algorithm than any conv3d kernel: matrix products of the weights and the
/// input's patches (im2col), written out for the gradients too. Inputs come from a private generator, so probing never
/// moves the global random state a seeded run depends on.
/// </summary>
internal sealed class Conv3dProbe : IDisposable
{
    private const ulong Seed = 2017;

    private readonly Conv3dShape shape;
    private readonly List<Case> cases = [];

    /// <summary>One batch: its input, weight, bias and upstream gradient, and the float64 results (rounded to float32,
    /// which keeps the comparison 100x below the tolerance and halves the memory) to meet.</summary>
    private sealed record Case(Tensor X, Tensor W, Tensor? B, Tensor Grad, Tensor Y, Tensor GradX, Tensor GradW, Tensor? GradB)
    {
        public IEnumerable<Tensor> Tensors => new[] { X, W, B, Grad, Y, GradX, GradW, GradB }.OfType<Tensor>();
    }

    /// <summary>Relative L2 error above which a route is wrong: float32 sums of these sizes measured 1e-7 to 1e-6
    /// (the wrong kernels 0.1 or NaN); half-precision types carry their own rounding (~4e-3).</summary>
    public static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float32 ? 2e-5 : 2e-2;

    public Conv3dProbe(Conv3dShape shape, ScalarType dtype, Device device)
    {
        this.shape = shape;
        using var generator = new Generator(Seed, CPU);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long[] kernel = shape.KernelArray, stride = shape.StrideArray, padding = shape.PaddingArray;
        // The call's own length in time, four output positions in height and width. In space: 3x3x3 kernels with 8 more
        // input channels than a multiple of 16 were wrong at every size down to one position, but 1x7x7 stride-2 ones
        // with 20, 24 or 36 channels are right up to 2 outputs and wrong from 3 (measured on AMD Zen 5, libtorch 2.10; a
        // probe of 2 positions missed them). In time: bfloat16 3x3x3 weight gradients are wrong on 2 frames and right on
        // 1 and 3 to 8, so a fixed probe length either misses them or condemns every call (the probe before this one, of
        // 2 frames, sent all of them to another route). The cost is the weights times the call's output frames x 4 x 4.
        // (libtorch 2.10's oneDNN backward of a 7x7x7, stride-2 convolution padded by 3 corrupts the heap on a 5-wide
        // input, which the spatial rule never makes: 7 wide; a 5-frame clip would make it in time, and the call itself
        // would meet the same kernel.)
        long Space(int d) => Math.Max(3 * stride[d] + kernel[d] - 2 * padding[d], 1);
        long[] size = [shape.Frames, Space(1), Space(2)];
        double scale = 1 / Math.Sqrt(shape.In * kernel[0] * kernel[1] * kernel[2]);
        var x = Random([2, shape.In, size[0], size[1], size[2]], 1, generator, device, dtype);
        if (shape.ChannelsLast) x = ActivationLayout.ToChannelsLast(x); // the call's memory order: other kernels
        var w = Random([shape.Out, shape.In, .. kernel], scale, generator, device, dtype);
        var b = shape.Bias ? Random([shape.Out], 1, generator, device, dtype) : null;
        var r = Reference(x.to(ScalarType.Float64), w, b, stride, padding, generator, dtype);
        var g = r.Grad.to(dtype);
        // Batch 1 is the first clip; batch 2 both, its weight and bias gradients the sums over the clips.
        cases.Add(Keep(new Case(x.narrow(0, 0, 1), w, b, g.narrow(0, 0, 1), F32(r.Y.narrow(0, 0, 1)), F32(r.GradX.narrow(0, 0, 1)),
            r.GradW1, r.GradB?.narrow(0, 0, 1).sum([0]).to(ScalarType.Float32))));
        cases.Add(Keep(new Case(x, w, b, g, F32(r.Y), F32(r.GradX), r.GradW2, r.GradB?.sum([0]).to(ScalarType.Float32))));
    }

    private static Tensor F32(Tensor t) => t.to(ScalarType.Float32);

    /// <summary>Moves a case's tensors out of the constructor's dispose scope (the probe disposes them).</summary>
    private static Case Keep(Case c)
    {
        foreach (var t in c.Tensors) t.MoveToOuterDisposeScope();
        return c;
    }

    /// <summary>The worst relative error of <paramref name="route"/> over the outputs and the gradients
    /// <paramref name="use"/> needs (NaN counts as infinite), and what it was: <c>forward, batch 2</c>.</summary>
    public (double Error, string Where) Error(Conv3dRoute route, Conv3dUse use = Conv3dUse.Train)
    {
        bool backward = use != Conv3dUse.Score;
        using var grad = backward ? enable_grad() : no_grad();
        double worst = 0;
        string where = "";
        foreach (var c in cases)
        {
            using var scope = NewDisposeScope();
            var x = c.X.detach().requires_grad_(use == Conv3dUse.Train);
            var w = c.W.detach().requires_grad_(backward);
            var b = c.B?.detach().requires_grad_(backward);
            var y = Conv3dRoutes.Apply(route, x, w, b, shape.StrideArray, shape.PaddingArray);
            long n = c.X.shape[0];
            Keep(Relative(y, c.Y), "forward");
            if (!backward) continue;
            y.backward([c.Grad]);
            if (use == Conv3dUse.Train) Keep(Relative(x.grad!, c.GradX), "input gradient");
            Keep(Relative(w.grad!, c.GradW), "weight gradient");
            if (b is not null) Keep(Relative(b.grad!, c.GradB!), "bias gradient");

            void Keep(double e, string what)
            {
                if (e > worst) (worst, where) = (e, $"{what}, batch {n}");
            }
        }
        return (worst, where);
    }

    /// <summary>The reference's results for a batch of 2: output, upstream and input gradients, the weight gradient of the
    /// first clip and of both (rounded to float32: the weights are the big tensors), the bias gradient of each clip.</summary>
    internal sealed record ReferenceResult(Tensor Y, Tensor Grad, Tensor GradX, Tensor GradW1, Tensor GradW2, Tensor? GradB);

    /// <summary>
    /// The convolution of <paramref name="x"/> (float64) and its gradients for a random upstream gradient, in float64
    /// (the weight and bias of any type are widened block by block): y = W · cols(x) + b; dW per clip = g · cols(x)ᵀ; dx = col2im(Wᵀ · g); db per clip = Σ g.
    /// The batch must have 2 clips.
    /// The upstream gradient is drawn from <paramref name="generator"/> in <paramref name="gradType"/>'s values.
    /// </summary>
    internal static ReferenceResult Reference(Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding, Generator generator, ScalarType gradType)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0], c = x.shape[1], o = weight.shape[0];
        long[] k = weight.shape[2..];
        var xp = nn.functional.pad(x, [padding[2], padding[2], padding[1], padding[1], padding[0], padding[0]]);
        long[] outSize = [.. Enumerable.Range(0, 3).Select(d => (xp.shape[2 + d] - k[d]) / stride[d] + 1)];
        // Each kernel offset's strided view of the padded input: (N, C, T', H', W').
        Tensor Window(Tensor t, long a, long b, long e) =>
            t.slice(2, a, a + (outSize[0] - 1) * stride[0] + 1, stride[0])
             .slice(3, b, b + (outSize[1] - 1) * stride[1] + 1, stride[1])
             .slice(4, e, e + (outSize[2] - 1) * stride[2] + 1, stride[2]);
        var offsets = (from a in Enumerable.Range(0, (int)k[0]) from b in Enumerable.Range(0, (int)k[1]) from e in Enumerable.Range(0, (int)k[2]) select (a, b, e)).ToList();
        // (N, C, K, T'H'W') -> (N, C*K, P): the (C, kT, kH, kW) order of the weight's rows.
        var columns = stack(offsets.Select(f => Window(xp, f.a, f.b, f.e)).ToList(), 2).reshape(n, c * k[0] * k[1] * k[2], -1);
        long ck = c * k[0] * k[1] * k[2], p = columns.shape[2];
        var g = Random([n, o, p], 1, generator, x.device, gradType).to(ScalarType.Float64);
        var y = empty([n, o, p], ScalarType.Float64, x.device);
        var gradW1 = empty([o, ck], ScalarType.Float32, x.device);
        var gradW2 = empty([o, ck], ScalarType.Float32, x.device);
        var gradColumns = zeros([n, ck, p], ScalarType.Float64, x.device);
        // Blocks of output channels of at most 4 MB of float64 weights: fresh memory costs page faults (the larger part
        // of probing a big layer), and blocks this small are recycled by the allocator instead.
        long block = Math.Max(1, (4 << 20) / (8 * ck));
        for (long o0 = 0; o0 < o; o0 += block)
        {
            using var blockScope = NewDisposeScope();
            long ob = Math.Min(block, o - o0);
            var wb = weight.narrow(0, o0, ob).reshape(ob, ck).to(ScalarType.Float64);
            var gb = g.narrow(1, o0, ob);
            var yb = wb.matmul(columns);
            if (bias is not null) yb.PlusInPlace(bias.narrow(0, o0, ob).to(ScalarType.Float64).view(1, ob, 1));
            y.narrow(1, o0, ob).copy_(yb);
            // The first clip's weight gradient, then the second's added in place.
            var gw = gb[0].matmul(columns[0].t());
            gradW1.narrow(0, o0, ob).copy_(gw);
            gradW2.narrow(0, o0, ob).copy_(gw.addmm_(gb[1], columns[1].t()));
            gradColumns.PlusInPlace(wb.t().matmul(gb));
        }
        var gradB = bias is null ? null : g.sum([2]);
        long[] wShape = [o, c, k[0], k[1], k[2]];
        gradColumns = gradColumns.reshape(n, c, offsets.Count, outSize[0], outSize[1], outSize[2]);
        var gradPadded = zeros_like(xp);
        for (int i = 0; i < offsets.Count; i++) Window(gradPadded, offsets[i].a, offsets[i].b, offsets[i].e).PlusInPlace(gradColumns.select(2, i));
        var gradX = gradPadded.slice(2, padding[0], padding[0] + x.shape[2], 1).slice(3, padding[1], padding[1] + x.shape[3], 1)
            .slice(4, padding[2], padding[2] + x.shape[4], 1);
        long[] yShape = [n, o, outSize[0], outSize[1], outSize[2]];
        return new ReferenceResult(y.reshape(yShape).MoveToOuterDisposeScope(), g.reshape(yShape).MoveToOuterDisposeScope(),
            gradX.contiguous().MoveToOuterDisposeScope(), gradW1.reshape(wShape).MoveToOuterDisposeScope(), gradW2.reshape(wShape).MoveToOuterDisposeScope(),
            gradB?.MoveToOuterDisposeScope());
    }

    /// <summary>||value - reference|| / ||reference|| in float32 (the reference is float32-rounded); NaN is infinite.</summary>
    internal static double Relative(Tensor value, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var v = value.dtype == reference.dtype ? value : value.to(reference.dtype);
        double norm = Norm(reference);
        double e = Norm(v - reference) / (norm > 0 ? norm : 1);
        return double.IsFinite(e) ? e : double.PositiveInfinity;
    }

    private static double Norm(Tensor t) => t.norm().to(ScalarType.Float64).item<double>();

    private static Tensor Random(long[] shape, double scale, Generator generator, Device device, ScalarType dtype)
    {
        using var u = empty(shape, ScalarType.Float32).uniform_(-scale, scale, generator);
        return u.to(dtype).to(device, copy: true);
    }

    public void Dispose()
    {
        foreach (var c in cases)
            foreach (var t in c.Tensors) t.Dispose();
    }
}
