using I3D.MLNet.IO;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Weights;
using static TorchSharp.torch;

using I3D.MLNet.Tests.Shared;

namespace I3D.MLNet.Torch.Tests;

/// <summary>Known answers from the reference pytorch-i3d (../shared/fixtures/pytorch-i3d, made with python3-torch 1.13).</summary>
public class InceptionI3dParityTests
{
    [SkippableFact]
    public void ReproducesReferenceLogitsOnRandomRgbWeights()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string dir = TestPaths.SharedFixtures;
        using var net = ModuleWeights.LoadInceptionI3d(Path.Combine(dir, "rgb_random.pt"));
        Assert.Equal(400, net.NumClasses);
        Assert.Equal(3, net.InChannels);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ClipTensor.FromKineticsLayout(Npy.Read(Path.Combine(dir, "rgb_random_input.npy")), "input");
        var perTime = net.PerTimeLogits(x);
        var expectedPerTime = TestPaths.Load(Path.Combine(dir, "rgb_random_logits_per_time.npy"));
        Assert.Equal(expectedPerTime.shape, perTime.shape);
        double errPerTime = TestPaths.RelativeL2(perTime, expectedPerTime);
        var logits = perTime.mean([2]);
        double err = TestPaths.RelativeL2(logits, TestPaths.Load(Path.Combine(dir, "rgb_random_logits.npy")));
        Console.WriteLine($"rgb_random: relative L2 error per-time {errPerTime:E2}, time-averaged {err:E2}");
        Assert.True(errPerTime < 1e-4, $"per-time relative error {errPerTime}");
        Assert.True(err < 1e-4, $"relative error {err}");
        // The reference's top-5 (fixture README): 350, 272, 88, 126, 214.
        Assert.Equal([350L, 272, 88, 126, 214], logits[0].topk(5).indexes.data<long>().ToArray());
    }
}
