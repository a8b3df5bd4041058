using System.Text.Json;
using I3D.MLNet.IO;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using static TorchSharp.torch;

namespace I3D.MLNet.Cli.Tests;

/// <summary><c>i3d convert</c> and kinetics-i3d TensorFlow checkpoints given as <c>--rgb-weights</c>.</summary>
public sealed class ConvertCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-convert").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    /// <summary>
    /// A 600-class RGB network written as the Kinetics-600 checkpoint is laid out (no scope prefix, Momentum slots
    /// beside the weights), with BatchNorm statistics that are not the defaults.
    /// </summary>
    private (InceptionI3d Net, string Prefix) Kinetics600Like()
    {
        var net = new InceptionI3d(600, 3);
        using (no_grad())
            foreach (var (key, buffer) in net.named_buffers())
                if (key.EndsWith("running_var", StringComparison.Ordinal)) buffer.uniform_(0.5, 2);
                else if (key.EndsWith("running_mean", StringComparison.Ordinal)) buffer.normal_(0, 0.1);
        net.eval();
        string folder = Path.Combine(dir, "rgb_scratch_kin600");
        Directory.CreateDirectory(folder);
        string prefix = Path.Combine(folder, "model.ckpt");
        TfCheckpointWriter.WriteModule(net, prefix, scope: "", extraSlots: ["Conv3d_1a_7x7/conv_3d/w/Momentum", "Logits/Conv3d_0c_1x1/conv_3d/b/Momentum"]);
        return (net, prefix);
    }

    [Fact]
    public void ConvertWritesThePytorchI3dStateDict()
    {
        var (net, prefix) = Kinetics600Like();
        using var _ = net;
        string pt = Path.Combine(dir, "rgb_kin600.pt");
        var result = I3dProcess.Ok("convert", Path.GetDirectoryName(prefix)!, "--out", pt);
        Assert.Contains($"{pt}: InceptionI3d, RGB (3 channels), 600 classes", result.Stdout);

        var expected = net.state_dict();
        var written = TorchStateDict.Read(pt);
        try
        {
            Assert.Equal(expected.Keys.Order(), written.Select(kv => kv.Key).Order());
            foreach (var (key, value) in written)
                Assert.True(expected[key].eq(value).all().item<bool>(), key);
        }
        finally { foreach (var kv in written) kv.Value.Dispose(); }
    }

    [Fact]
    public void ConvertErrorsAreOneLineNamingTheFile()
    {
        string missing = Path.Combine(dir, "nothing", "model.ckpt");
        var result = I3dProcess.Run("convert", missing, "--out", Path.Combine(dir, "x.pt"));
        Assert.Equal(1, result.ExitCode);
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(missing, line);

        var (net, prefix) = Kinetics600Like();
        net.Dispose();
        File.Delete(prefix + ".data-00000-of-00001");
        result = I3dProcess.Run("convert", prefix, "--out", Path.Combine(dir, "x.pt"));
        Assert.Equal(1, result.ExitCode);
        line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(prefix + ".data-00000-of-00001", line);
        Assert.False(File.Exists(Path.Combine(dir, "x.pt")));
    }

    [Fact]
    public void PredictTakesACheckpointPrefixLikeAPtFile()
    {
        var (net, prefix) = Kinetics600Like();
        using var _ = net;
        string pt = Path.Combine(dir, "same.pt");
        ModuleWeights.Save(net, pt);
        var random = new Random(3);
        var clip = new float[1 * 9 * 64 * 64 * 3];
        for (int i = 0; i < clip.Length; i++) clip[i] = (float)(random.NextDouble() * 2 - 1);
        string npy = Path.Combine(dir, "clip_rgb.npy");
        Npy.Write(npy, clip, 1, 9, 64, 64, 3);

        JsonElement Predict(string weights)
        {
            var (rc, stdout, stderr) = PredictCommandTests.Run(npy, "--rgb-weights", weights, "--json");
            Assert.True(rc == 0, stderr);
            return JsonDocument.Parse(stdout).RootElement.GetProperty("results")[0].Clone();
        }

        var fromPt = Predict(pt);
        var fromCheckpoint = Predict(prefix);
        var fromIndex = Predict(prefix + ".index");
        Assert.Equal(PredictCommandTests.Floats(fromPt.GetProperty("logits")), PredictCommandTests.Floats(fromCheckpoint.GetProperty("logits")));
        Assert.Equal(PredictCommandTests.Floats(fromPt.GetProperty("logits")), PredictCommandTests.Floats(fromIndex.GetProperty("logits")));
        Assert.Equal(600, PredictCommandTests.Floats(fromCheckpoint.GetProperty("logits")).Length);
        // 600 classes: the Kinetics-600 names (models/kinetics600_labels.txt, built into the library).
        var labels = File.ReadAllLines(Path.Combine(I3D.MLNet.Testing.SharedData.RepoRoot, "models", "kinetics600_labels.txt"));
        var top = fromCheckpoint.GetProperty("top")[0];
        Assert.Equal(labels[top.GetProperty("index").GetInt32()], top.GetProperty("label").GetString());
    }
}
