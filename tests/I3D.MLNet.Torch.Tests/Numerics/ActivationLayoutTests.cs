using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Numerics;

/// <summary>Channels-last activations (<see cref="ActivationLayout"/>, training and reduced-precision scoring): the layout
/// survives the network, and the numbers are libtorch's layout's. Process-wide settings, so the tests run alone and each
/// puts them back when it ends.</summary>
[Collection(ConvolutionCheckCollection.Name)]
public sealed class ActivationLayoutTests(ITestOutputHelper log) : IDisposable
{
    private readonly Restore settings = new(Settings());

    private static Action Settings()
    {
        bool channelsLast = ActivationLayout.ChannelsLast;
        var mode = ConvolutionCheck.Mode;
        var notices = ConvolutionCheck.Log;
        int threads = get_num_threads();
        return () =>
        {
            ActivationLayout.ChannelsLast = channelsLast;
            ConvolutionCheck.Mode = mode;
            ConvolutionCheck.Log = notices;
            set_num_threads(threads);
        };
    }

    public void Dispose() => settings.Dispose();

    [Fact]
    public void TheLayoutIsRecognised()
    {
        using var scope = NewDisposeScope();
        var x = randn([2, 5, 3, 4, 6]);
        Assert.False(ActivationLayout.IsChannelsLast(x));
        var last = ActivationLayout.ToChannelsLast(x);
        Assert.True(ActivationLayout.IsChannelsLast(last));
        Assert.True(last.equal(x).all().item<bool>());
        Assert.False(ActivationLayout.IsChannelsLast(randn([2, 1, 3, 4, 6]))); // one channel: both layouts at once
        Assert.False(ActivationLayout.IsChannelsLast(last.narrow(1, 0, 3))); // a slice of the channels is neither
    }

    /// <summary>Scoring in bfloat16 goes channels-last with the setting and gives the same logits to bfloat16's rounding;
    /// float32 scoring keeps libtorch's layout either way.</summary>
    [Fact]
    public void ReducedPrecisionScoringIsChannelsLastWithTheSameLogits()
    {
        using var scope = NewDisposeScope();
        var (net, x) = Network(8);
        using var _ = net;

        Tensor Score(bool channelsLast, ScalarType type)
        {
            ActivationLayout.ChannelsLast = channelsLast;
            net.to(type);
            using var noGrad = no_grad();
            return Endpoints(net, x.to(type), channelsLast && type == ScalarType.BFloat16, $"{type}, channels-last {channelsLast}").to(ScalarType.Float32);
        }

        var plain = Score(false, ScalarType.BFloat16);
        var last = Score(true, ScalarType.BFloat16);
        double difference = TestPaths.RelativeL2(last, plain);
        log.WriteLine($"bfloat16 scoring, channels-last vs libtorch's layout on {MachineIdentity.Cpu}: logits {difference:E1}");
        Assert.True(difference < 1e-2, $"logits {difference}"); // bfloat16 rounding: 1.5e-3 from float64 (RESULTS.md)
        Score(true, ScalarType.Float32);
    }

    /// <summary>One training pass of InceptionI3d (BatchNorm on running statistics: a fixed function) in each layout: every
    /// endpoint is channels-last exactly when the setting says so, and logits and gradients agree to float32 rounding;
    /// also with every convolution forced through a workaround route, and at 1 thread, where libtorch computes 1x1x1
    /// convolutions itself (both hand back another layout, which the guard puts back).</summary>
    [Theory]
    [InlineData(ConvolutionCheckMode.Auto, 2)]
    [InlineData(ConvolutionCheckMode.Auto, 1)]
    [InlineData(ConvolutionCheckMode.Force, 2)]
    public void TrainingActivationsStayChannelsLastWithTheSameNumbers(ConvolutionCheckMode mode, int threads)
    {
        set_num_threads(threads);
        ConvolutionCheck.Mode = mode;
        ConvolutionCheck.Log = _ => { };
        using var scope = NewDisposeScope();
        var (net, x) = Network(7);
        using var _ = net;
        var y = tensor(new long[] { 1, 3 });

        (Tensor Logits, Tensor Gradients) Run(bool channelsLast)
        {
            ActivationLayout.ChannelsLast = channelsLast;
            net.zero_grad();
            var logits = Endpoints(net, x, channelsLast, $"training, channels-last {channelsLast}").mean([2]);
            nn.functional.cross_entropy(logits, y).backward();
            return (logits.detach(), cat(net.parameters().Select(p => p.grad!.flatten()).ToList(), 0));
        }

        var (plainLogits, plainGradients) = Run(false);
        var (lastLogits, lastGradients) = Run(true);
        double logits = TestPaths.RelativeL2(lastLogits, plainLogits), gradients = TestPaths.RelativeL2(lastGradients, plainGradients);
        log.WriteLine($"channels-last vs libtorch's layout, check {mode}, {threads} threads, on {MachineIdentity.Cpu}: logits {logits:E1}, gradients {gradients:E1}");
        Assert.True(logits < 1e-5, $"logits {logits}");
        // Different summation orders: float32 rounding, and a ReLU input within rounding of zero may change side
        // (MixedPrecisionTests: 4e-4 from one such element); a wrong kernel is off by order 1.
        Assert.True(gradients < 1e-3, $"gradients {gradients}");
    }

    /// <summary>A seeded InceptionI3d in eval mode (BatchNorm on running statistics) and a batch of two 16x64x64 clips.</summary>
    private static (InceptionI3d Net, Tensor Clips) Network(int seed)
    {
        manual_seed(seed);
        using var generator = new Generator((ulong)seed, CPU);
        var net = new InceptionI3d(4, 3);
        net.eval();
        return (net, empty([2, 3, 16, 64, 64]).uniform_(-1, 1, generator));
    }

    /// <summary>Every endpoint of one pass, asserted channels-last exactly when <paramref name="channelsLast"/>; the per-time logits.</summary>
    private static Tensor Endpoints(InceptionI3d net, Tensor x, bool channelsLast, string what)
    {
        string[] names = [.. net.EndpointNames];
        var endpoints = net.Endpoints(x, names);
        foreach (var name in names.Where(n => n != "Logits"))
            Assert.True(channelsLast == ActivationLayout.IsChannelsLast(endpoints[name]),
                $"{name}, {what}: strides {string.Join(", ", endpoints[name].stride())}");
        return endpoints["Logits"];
    }
}
