using I3D.MLNet.IO;
using I3D.MLNet.Onnx;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Onnx.OnnxTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Onnx;

/// <summary>ONNX export: ONNX Runtime's logits against TorchSharp's (relative L2 error &lt; 1e-4) and the reference fixture.</summary>
public sealed class OnnxExportTests(ITestOutputHelper log)
{
    private const double Tolerance = 1e-4;

    [SkippableFact]
    public void ReferenceFixtureLogitsThroughOnnxRuntime()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string dir = TestPaths.SharedFixtures;
        using var net = ModuleWeights.LoadInceptionI3d(Path.Combine(dir, "rgb_random.pt"));
        net.eval();
        byte[] model = OnnxExporter.Export(net);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ClipTensor.FromKineticsLayout(Npy.Read(Path.Combine(dir, "rgb_random_input.npy")), "input");
        var (onnx, shape) = Run(model, x);
        Assert.Equal([1L, 400], shape);
        var torchLogits = net.forward(x).data<float>().ToArray();
        var reference = Npy.Read(Path.Combine(dir, "rgb_random_logits.npy")).Data;
        double vsTorch = RelativeL2(onnx, torchLogits), vsReference = RelativeL2(onnx, reference);
        log.WriteLine($"16x224x224 fixture: ONNX vs TorchSharp {vsTorch:E2}, ONNX vs pytorch-i3d reference {vsReference:E2}");
        Assert.True(vsTorch < Tolerance, $"ONNX vs TorchSharp relative error {vsTorch}");
        Assert.True(vsReference < Tolerance, $"ONNX vs reference relative error {vsReference}");
        int[] top5 = [.. Enumerable.Range(0, 400).OrderByDescending(i => onnx[i]).Take(5)];
        Assert.Equal([350, 272, 88, 126, 214], top5);
    }

    [Theory]
    [InlineData(3, 4)]
    [InlineData(3, 9)]
    [InlineData(3, 10)]
    [InlineData(3, 16)]
    [InlineData(2, 11)]
    public void InceptionI3dMatchesTorchSharpForAnyLength(int channels, int frames)
    {
        manual_seed(10 + frames);
        using var net = RandomizeBatchNorms(new InceptionI3d(numClasses: 7, inChannels: channels), seed: frames);
        byte[] model = OnnxExporter.Export(net, new OnnxExportOptions { Size = 112 });
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = empty([2, channels, frames, 112, 112]).uniform_(-1, 1);
        var (onnx, shape) = Run(model, x);
        Assert.Equal([2L, 7], shape);
        var expected = net.forward(x).data<float>().ToArray();
        double err = RelativeL2(onnx, expected);
        double spread = expected.Max() - expected.Min();
        log.WriteLine($"InceptionI3d C={channels} T={frames} 112x112, batch 2: relative L2 {err:E2} (logit spread {spread:G3})");
        Assert.True(spread > 1e-3, $"degenerate logits (spread {spread}): the comparison would say nothing");
        Assert.True(err < Tolerance, $"relative error {err}");
    }

    [Theory]
    [InlineData(3, 8)]
    [InlineData(2, 13)]
    public void ResNet3d18MatchesTorchSharp(int channels, int frames)
    {
        manual_seed(20 + frames);
        using var net = RandomizeBatchNorms(new ResNet3d18(numClasses: 5, inChannels: channels, blocksPerLayer: [2, 2, 2, 3]), seed: frames);
        byte[] model = OnnxExporter.Export(net, new OnnxExportOptions { Size = 96 }, inputScale: 127.5f);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = empty([2, channels, frames, 96, 96]).uniform_(-1, 1);
        var (onnx, shape) = Run(model, x);
        Assert.Equal([2L, 5], shape);
        var expected = net.forward(x.Times(127.5f)).data<float>().ToArray();
        double err = RelativeL2(onnx, expected);
        log.WriteLine($"ResNet3d18 C={channels} T={frames} 96x96, batch 2: relative L2 {err:E2}");
        Assert.True(expected.Max() - expected.Min() > 1e-3, "degenerate logits");
        Assert.True(err < Tolerance, $"relative error {err}");
    }

    [Fact]
    public void DeclaresDynamicAxesAndMetadata()
    {
        manual_seed(3);
        using var net = new InceptionI3d(numClasses: 3, inChannels: 2);
        net.eval();
        byte[] model = OnnxExporter.Export(net, new OnnxExportOptions { Size = 112, Classes = ["run", "jump", "sit down"] });
        using var session = new InferenceSession(model);
        var input = Assert.Single(session.InputMetadata);
        Assert.Equal(I3DOnnxFormat.InputName, input.Key);
        Assert.Equal([-1, 2, -1, 112, 112], input.Value.Dimensions);
        Assert.Equal([I3DOnnxFormat.BatchDimension, "", I3DOnnxFormat.TimeDimension, "", ""], input.Value.SymbolicDimensions);
        var output = Assert.Single(session.OutputMetadata);
        Assert.Equal(I3DOnnxFormat.OutputName, output.Key);
        Assert.Equal([-1, 3], output.Value.Dimensions);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("run\njump\nsit down", meta[I3DOnnxFormat.ClassesKey]);
        Assert.Equal("flow", meta[I3DOnnxFormat.StreamKey]);
        Assert.Equal("NCTHW", meta[I3DOnnxFormat.LayoutKey]);
        Assert.Equal("[-1, 1]", meta[I3DOnnxFormat.InputRangeKey]);
    }

    [Fact]
    public void RefusesWrongClassNamesAndStreams()
    {
        using var net = new InceptionI3d(numClasses: 3, inChannels: 3);
        var e = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(net, new OnnxExportOptions { Classes = ["a", "b"] }));
        Assert.Contains("2 class names for a network of 3 classes", e.Message);
        using var odd = new InceptionI3d(numClasses: 3, inChannels: 4);
        Assert.Contains("4-channel", Assert.Throws<ArgumentException>(() => OnnxExporter.Export(odd)).Message);
        using var resnet = new ResNet3d18(numClasses: 3);
        Assert.Contains("multiple of 32", Assert.Throws<ArgumentException>(() => OnnxExporter.Export(resnet, new OnnxExportOptions { Size = 112 })).Message);
        using var features = new ResNet3d18(numClasses: 0);
        Assert.Contains("no classifier", Assert.Throws<ArgumentException>(() => OnnxExporter.Export(features)).Message);
    }

    /// <summary>onnx.checker.check_model (full_check: also shape inference) with Debian's python3-onnx.</summary>
    [SkippableFact]
    public void PassesTheOnnxChecker()
    {
        Skip.IfNot(File.Exists(PythonFixtures.Python), $"{PythonFixtures.Python} is absent");
        var (probe, _) = PythonFixtures.Run("-c \"import onnx\"");
        Skip.If(probe != 0, $"{PythonFixtures.Python} has no onnx module (apt-get install python3-onnx)");
        string dir = Directory.CreateTempSubdirectory("i3d-onnx-check").FullName;
        try
        {
            manual_seed(5);
            using var inception = new InceptionI3d(numClasses: 4, inChannels: 3);
            using var resnet = new ResNet3d18(numClasses: 4, inChannels: 2);
            inception.eval();
            resnet.eval();
            string a = Path.Combine(dir, "inception.onnx"), b = Path.Combine(dir, "resnet.onnx");
            OnnxExporter.Save(OnnxExporter.Export(inception, new OnnxExportOptions { Size = 112 }), a);
            OnnxExporter.Save(OnnxExporter.Export(resnet, new OnnxExportOptions { Size = 96 }, 127.5f), b);
            string script = "import sys, onnx\n"
                + "for p in sys.argv[1:]:\n"
                + "    onnx.checker.check_model(p, full_check=True)\n"
                + "    m = onnx.load(p)\n"
                + "    print(p, 'ok', onnx.__version__, m.opset_import[0].version, m.ir_version)\n";
            string scriptPath = Path.Combine(dir, "check.py");
            File.WriteAllText(scriptPath, script);
            var (rc, err) = PythonFixtures.Run($"\"{scriptPath}\" \"{a}\" \"{b}\"");
            log.WriteLine($"onnx.checker: exit {rc} {err}");
            Assert.True(rc == 0, $"onnx.checker.check_model rejected the export: {err}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
