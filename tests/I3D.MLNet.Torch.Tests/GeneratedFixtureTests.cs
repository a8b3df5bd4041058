using I3D.MLNet.IO;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Weights;
using static TorchSharp.torch;

using I3D.MLNet.Tests.Shared;

namespace I3D.MLNet.Torch.Tests;

/// <summary>Known answers made at test time with python3-torch (fixtures/make_fixtures.py): legacy files, flow, odd frame counts.</summary>
public class GeneratedFixtureTests
{
    [SkippableTheory]
    [InlineData("rgb_legacy", 3)] // legacy (pre-1.6) pickle container, 11 frames at 112x112
    [InlineData("flow", 2)]       // flow stream, zip container, 13 frames at 112x112
    public void ReproducesReferenceLogits(string name, int channels)
    {
        using var net = ModuleWeights.LoadInceptionI3d(PythonFixtures.PathOf(name + ".pt"));
        Assert.Equal(channels, net.InChannels);
        Assert.Equal(10, net.NumClasses);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ClipTensor.FromKineticsLayout(Npy.Read(PythonFixtures.PathOf(name + "_input.npy")), name);
        var perTime = net.PerTimeLogits(x);
        var expectedPerTime = TestPaths.Load(PythonFixtures.PathOf(name + "_logits_per_time.npy"));
        Assert.Equal(expectedPerTime.shape, perTime.shape);
        double errPerTime = TestPaths.RelativeL2(perTime, expectedPerTime);
        double err = TestPaths.RelativeL2(net.forward(x), TestPaths.Load(PythonFixtures.PathOf(name + "_logits.npy")));
        Console.WriteLine($"{name}: relative L2 error per-time {errPerTime:E2}, time-averaged {err:E2}");
        Assert.True(errPerTime < 1e-4, $"per-time relative error {errPerTime}");
        Assert.True(err < 1e-4, $"relative error {err}");
    }

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
