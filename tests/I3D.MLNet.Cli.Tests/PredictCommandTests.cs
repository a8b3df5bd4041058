using System.CommandLine;
using System.Text.Json;
using I3D.MLNet.Cli.Commands;
using I3D.MLNet.IO;
using I3D.MLNet.Tests.Shared;

namespace I3D.MLNet.Cli.Tests;

public sealed class PredictCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-cli").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    internal static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = CliApp.Run(["predict", .. args], new InvocationConfiguration { Output = output, Error = error });
        return (rc, output.ToString(), error.ToString());
    }

    internal static float[] Floats(JsonElement e) => [.. e.EnumerateArray().Select(v => v.GetSingle())];

    internal static double RelativeL2(float[] a, float[] b) =>
        Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum()) / Math.Sqrt(b.Sum(y => (double)y * y));

    [SkippableFact]
    public void JsonReproducesTheReferenceLogits()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string f = TestPaths.SharedFixtures;
        var (rc, stdout, stderr) = Run(Path.Combine(f, "rgb_random_input.npy"), "--rgb-weights", Path.Combine(f, "rgb_random.pt"), "--json");
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(stdout); // exactly one JSON object
        var result = Assert.Single(doc.RootElement.GetProperty("results").EnumerateArray());
        var expected = Npy.Read(Path.Combine(f, "rgb_random_logits.npy")).Data;
        double rel = RelativeL2(Floats(result.GetProperty("logits")), expected);
        Assert.True(rel < 1e-4, $"relative error {rel}");
        Assert.Equal(["rgb"], result.GetProperty("streams").EnumerateObject().Select(p => p.Name));
        var top = result.GetProperty("top").EnumerateArray().ToList();
        Assert.Equal(5, top.Count);
        Assert.Equal(350, top[0].GetProperty("index").GetInt32());
        Assert.Equal("tapping guitar", top[0].GetProperty("label").GetString()); // line 351 of kinetics400_labels.txt
    }

    /// <summary>--precision bfloat16 scores the same clip in bfloat16 (the fixture's top two kept; its logits within the
    /// error ReducedPrecisionTests measures), and is refused for an ONNX model, which runs float32.</summary>
    [SkippableFact]
    public void Bfloat16PrecisionScoresWithTorchSharpAndIsRefusedForOnnx()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string f = TestPaths.SharedFixtures;
        var (rc, stdout, stderr) = Run(Path.Combine(f, "rgb_random_input.npy"), "--rgb-weights", Path.Combine(f, "rgb_random.pt"), "--precision", "bfloat16", "--json");
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var result = Assert.Single(doc.RootElement.GetProperty("results").EnumerateArray());
        double rel = RelativeL2(Floats(result.GetProperty("logits")), Npy.Read(Path.Combine(f, "rgb_random_logits.npy")).Data);
        Assert.InRange(rel, 1e-3, 0.2); // bfloat16's rounding, not float32's
        Assert.Equal([350, 272], result.GetProperty("top").EnumerateArray().Take(2).Select(t => t.GetProperty("index").GetInt32()));

        string onnx = Path.Combine(dir, "m.onnx");
        File.WriteAllBytes(onnx, [1, 2, 3]);
        var (rc2, _, err2) = Run(Path.Combine(f, "rgb_random_input.npy"), "--model", onnx, "--precision", "bfloat16");
        Assert.Equal(1, rc2);
        Assert.Contains("--precision bfloat16: " + onnx + " runs with ONNX Runtime, which scores in float32", err2);
        var (rc3, _, err3) = Run(Path.Combine(f, "rgb_random_input.npy"), "--rgb-weights", Path.Combine(f, "rgb_random.pt"), "--precision", "fp8");
        Assert.Equal(2, rc3);
        Assert.Contains("fp8", err3);
    }

    [SkippableFact]
    public void TwoStreamsSumTheLogitsThenSoftmax()
    {
        // kinetics-i3d naming: X_rgb.npy and X_flow.npy side by side run both streams.
        File.Copy(PythonFixtures.PathOf("rgb_legacy_input.npy"), Path.Combine(dir, "clip_rgb.npy"));
        File.Copy(PythonFixtures.PathOf("flow_input.npy"), Path.Combine(dir, "clip_flow.npy"));
        var (rc, stdout, stderr) = Run(Path.Combine(dir, "clip_rgb.npy"), "--rgb-weights", PythonFixtures.PathOf("rgb_legacy.pt"),
            "--flow-weights", PythonFixtures.PathOf("flow.pt"), "--json", "--top", "10");
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var result = doc.RootElement.GetProperty("results")[0];
        var rgb = Floats(result.GetProperty("streams").GetProperty("rgb"));
        var flow = Floats(result.GetProperty("streams").GetProperty("flow"));
        Assert.True(RelativeL2(rgb, Npy.Read(PythonFixtures.PathOf("rgb_legacy_logits.npy")).Data) < 1e-4);
        Assert.True(RelativeL2(flow, Npy.Read(PythonFixtures.PathOf("flow_logits.npy")).Data) < 1e-4);
        var joint = Floats(result.GetProperty("logits"));
        for (int i = 0; i < joint.Length; i++) Assert.Equal(rgb[i] + flow[i], joint[i], 5);
        double z = joint.Sum(v => Math.Exp(v));
        foreach (var t in result.GetProperty("top").EnumerateArray())
            Assert.Equal(Math.Exp(joint[t.GetProperty("index").GetInt32()]) / z, t.GetProperty("probability").GetDouble(), 5);
        Assert.Equal(JsonValueKind.Null, result.GetProperty("top")[0].GetProperty("label").ValueKind); // 10 classes: no labels
    }

    [SkippableFact]
    public void FlowClipWithRgbWeightsNamesBoth()
    {
        string flowClip = PythonFixtures.PathOf("flow_input.npy"), rgbWeights = PythonFixtures.PathOf("rgb_legacy.pt");
        var (rc, stdout, stderr) = Run(flowClip, "--rgb-weights", rgbWeights, "--json");
        Assert.NotEqual(0, rc);
        Assert.Equal("", stdout);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(flowClip, line);
        Assert.Contains(rgbWeights, line);
        Assert.Contains("2-channel (optical flow)", line);

        // And flow weights given as --rgb-weights.
        (rc, _, stderr) = Run(flowClip, "--rgb-weights", PythonFixtures.PathOf("flow.pt"));
        Assert.NotEqual(0, rc);
        Assert.Contains("given as RGB weights but holds an optical flow network", stderr);
    }

    [Fact]
    public void BadInputsGiveOneLineErrors()
    {
        string clip = Path.Combine(dir, "nan.npy"), weights = Path.Combine(dir, "w.pt");
        var data = new float[1 * 9 * 8 * 8 * 3];
        data[3] = float.NaN;
        Npy.Write(clip, data, 1, 9, 8, 8, 3);
        File.WriteAllText(weights, "not weights");
        var cases = new (string[] Args, string Expected)[]
        {
            ([clip], "give --model, --rgb-weights, --flow-weights or both weights"),
            ([clip, "--rgb-weights", weights], "not a PyTorch weight file"),
            ([clip, "--rgb-weights", Path.Combine(dir, "absent.pt")], "no such weight file"),
        };
        foreach (var (args, expected) in cases)
        {
            var (rc, stdout, stderr) = Run(args);
            Assert.NotEqual(0, rc);
            Assert.Equal("", stdout);
            Assert.Contains(expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        }
    }

    [Fact]
    public void NanClipAndVideoInputAreClearErrors()
    {
        string weights = Path.Combine(dir, "small.pt");
        using (var net = new I3D.MLNet.Torch.Models.InceptionI3d(4, 3)) I3D.MLNet.Torch.Weights.ModuleWeights.Save(net, weights);
        string clip = Path.Combine(dir, "nan.npy");
        var data = new float[1 * 9 * 8 * 8 * 3];
        data[3] = float.NaN;
        Npy.Write(clip, data, 1, 9, 8, 8, 3);
        var (rc, _, stderr) = Run(clip, "--rgb-weights", weights);
        Assert.NotEqual(0, rc);
        Assert.Contains("NaN", stderr);

        string video = Path.Combine(dir, "clip.mp4");
        File.WriteAllBytes(video, [0, 0, 0, 0]);
        (rc, _, stderr) = Run(video, "--rgb-weights", weights);
        Assert.NotEqual(0, rc);
        Assert.Contains("clip.mp4", stderr); // a broken video: one line naming it

        // A one-frame 32x32 clip runs (looped to 9 frames; the average pool shrinks to the feature map).
        Npy.Write(clip, new float[1 * 1 * 32 * 32 * 3], 1, 1, 32, 32, 3);
        var (ok, stdout, err) = Run(clip, "--rgb-weights", weights, "--json", "--top", "2");
        Assert.True(ok == 0, err);
        Assert.Equal(4, JsonDocument.Parse(stdout).RootElement.GetProperty("results")[0].GetProperty("logits").GetArrayLength());
    }
}
