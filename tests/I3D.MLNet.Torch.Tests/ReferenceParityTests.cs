using I3D.MLNet.IO;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Weights;
using static TorchSharp.torch;

using I3D.MLNet.Tests.Shared;

namespace I3D.MLNet.Torch.Tests;

/// <summary>
/// Known answers of the reference pytorch-i3d network: ../shared/fixtures/pytorch-i3d (400 classes, 16 frames at 224x224)
/// and fixtures made at test time with python3-torch by fixtures/make_fixtures.py (legacy files, flow, odd frame counts).
/// </summary>
public class ReferenceParityTests
{
    /// <summary>Loads the weights, runs the input, compares per-time and time-averaged logits (relative L2 &lt; 1e-4).</summary>
    /// <returns>The indices of the five largest time-averaged logits.</returns>
    private static long[] AssertReproduces(string weights, string input, string logits, string perTimeLogits, int classes, int channels)
    {
        using var net = ModuleWeights.LoadInceptionI3d(weights);
        Assert.Equal(channels, net.InChannels);
        Assert.Equal(classes, net.NumClasses);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ClipTensor.FromKineticsLayout(Npy.Read(input), input);
        var perTime = net.PerTimeLogits(x);
        var expectedPerTime = TestPaths.Load(perTimeLogits);
        Assert.Equal(expectedPerTime.shape, perTime.shape);
        double errPerTime = TestPaths.RelativeL2(perTime, expectedPerTime);
        var averaged = perTime.mean([2]);
        double err = TestPaths.RelativeL2(averaged, TestPaths.Load(logits));
        Console.WriteLine($"{Path.GetFileName(weights)}: relative L2 error per-time {errPerTime:E2}, time-averaged {err:E2}");
        Assert.True(errPerTime < 1e-4, $"per-time relative error {errPerTime}");
        Assert.True(err < 1e-4, $"relative error {err}");
        return averaged[0].topk(Math.Min(5, classes)).indexes.data<long>().ToArray();
    }

    [SkippableFact]
    public void ReproducesSharedFixtureLogits()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string dir = TestPaths.SharedFixtures;
        var top5 = AssertReproduces(Path.Combine(dir, "rgb_random.pt"), Path.Combine(dir, "rgb_random_input.npy"),
            Path.Combine(dir, "rgb_random_logits.npy"), Path.Combine(dir, "rgb_random_logits_per_time.npy"), 400, 3);
        Assert.Equal([350L, 272, 88, 126, 214], top5); // the fixture README's top-5
    }

    [SkippableTheory]
    [InlineData("rgb_legacy", 3)] // legacy (pre-1.6) pickle container, 11 frames at 112x112
    [InlineData("flow", 2)]       // flow stream, zip container, 13 frames at 112x112
    public void ReproducesGeneratedFixtureLogits(string name, int channels) =>
        _ = AssertReproduces(PythonFixtures.PathOf(name + ".pt"), PythonFixtures.PathOf(name + "_input.npy"),
            PythonFixtures.PathOf(name + "_logits.npy"), PythonFixtures.PathOf(name + "_logits_per_time.npy"), 10, channels);

    [SkippableFact]
    public void SavedWeightsLoadInPythonAndGiveTheSameLogits()
    {
        using var net = ModuleWeights.LoadInceptionI3d(PythonFixtures.PathOf("flow.pt"));
        string dir = Directory.CreateTempSubdirectory("i3d-save").FullName;
        try
        {
            string saved = Path.Combine(dir, "flow_ours.pt");
            ModuleWeights.Save(net, saved);

            // Read back in C#: every tensor identical.
            var back = TorchStateDict.Read(saved);
            var original = net.state_dict();
            Assert.Equal(original.Keys, back.Select(kv => kv.Key));
            foreach (var (key, value) in back)
            {
                Assert.True(value.equal(original[key]).all().item<bool>(), key);
                value.Dispose();
            }

            // Read in Python (torch.load + strict load_state_dict), run there: same logits as here.
            string input = PythonFixtures.PathOf("flow_input.npy"), output = Path.Combine(dir, "logits.npy");
            var (rc, err) = PythonFixtures.Run($"\"{PythonFixtures.Script}\" forward \"{saved}\" \"{input}\" \"{output}\"");
            Assert.True(rc == 0, err);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var ours = net.forward(ClipTensor.FromKineticsLayout(Npy.Read(input), input));
            double rel = TestPaths.RelativeL2(ours, TestPaths.Load(output));
            Assert.True(rel < 1e-4, $"relative error {rel}"); // float32 conv algorithms differ (libtorch 2.10 vs 1.13)
        }
        finally { Directory.Delete(dir, true); }
    }
}
