using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Numerics;

/// <summary>Channels-last activations (<see cref="ActivationLayout"/>, training and reduced-precision scoring): the layout
/// survives the network, and the numbers are libtorch's layout's. Process-wide setting, so the tests run alone.</summary>
[Collection(ConvolutionCheckCollection.Name)]
public sealed class ActivationLayoutTests(ITestOutputHelper log)
{
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
        bool previous = ActivationLayout.ChannelsLast;
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(8);
            using var generator = new Generator(8, CPU);
            using var net = new InceptionI3d(4, 3);
            net.eval();
            var x = empty([2, 3, 16, 64, 64]).uniform_(-1, 1, generator);
            string[] names = [.. net.EndpointNames];

            Tensor Score(bool channelsLast, ScalarType type)
            {
                ActivationLayout.ChannelsLast = channelsLast;
                net.to(type);
                using var _ = no_grad();
                var endpoints = net.Endpoints(x.to(type), names);
                bool expected = channelsLast && type == ScalarType.BFloat16;
                foreach (var name in names.Where(n => n != "Logits"))
                    Assert.True(expected == ActivationLayout.IsChannelsLast(endpoints[name]),
                        $"{name}, {type}, channels-last {channelsLast}: strides {string.Join(", ", endpoints[name].stride())}");
                return endpoints["Logits"].to(ScalarType.Float32);
            }

            var plain = Score(false, ScalarType.BFloat16);
            var last = Score(true, ScalarType.BFloat16);
            double difference = TestPaths.RelativeL2(last, plain);
            log.WriteLine($"bfloat16 scoring, channels-last vs libtorch's layout on {MachineIdentity.Cpu}: logits {difference:E1}");
            Assert.True(difference < 1e-2, $"logits {difference}"); // bfloat16 rounding: 1.5e-3 from float64 (RESULTS.md)
            Score(true, ScalarType.Float32);
        }
        finally
        {
            ActivationLayout.ChannelsLast = previous;
        }
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
        bool previous = ActivationLayout.ChannelsLast;
        var previousMode = ConvolutionCheck.Mode;
        var previousLog = ConvolutionCheck.Log;
        int previousThreads = get_num_threads();
        try
        {
            set_num_threads(threads);
            ConvolutionCheck.Mode = mode;
            ConvolutionCheck.Log = _ => { };
            using var scope = NewDisposeScope();
            manual_seed(7);
            using var generator = new Generator(7, CPU);
            using var net = new InceptionI3d(4, 3);
            net.eval();
            var x = empty([2, 3, 16, 64, 64]).uniform_(-1, 1, generator);
            var y = tensor(new long[] { 1, 3 });
            string[] names = [.. net.EndpointNames];

            (Tensor Logits, Tensor Gradients) Run(bool channelsLast)
            {
                ActivationLayout.ChannelsLast = channelsLast;
                net.zero_grad();
                var endpoints = net.Endpoints(x, names);
                foreach (var name in names.Where(n => n != "Logits"))
                    Assert.True(channelsLast == ActivationLayout.IsChannelsLast(endpoints[name]),
                        $"{name} with channels-last {channelsLast}: strides {string.Join(", ", endpoints[name].stride())}");
                var logits = endpoints["Logits"].mean([2]);
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
        finally
        {
            ActivationLayout.ChannelsLast = previous;
            ConvolutionCheck.Mode = previousMode;
            ConvolutionCheck.Log = previousLog;
            set_num_threads(previousThreads);
        }
    }
}
