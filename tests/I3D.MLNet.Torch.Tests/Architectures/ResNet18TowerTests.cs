using I3D.MLNet.Scoring;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Architectures.ArchitectureTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>
/// The 2-D ResNet-18 tower of ResNet18.onnx: the ImageNet start of every 2-D architecture that works offline. Its features
/// against ONNX Runtime running ResNet18.onnx itself (batch 2, float64 as the judge), the flow tower's first layer, a
/// wrong file, and the three architectures built on it.
/// </summary>
public sealed class ResNet18TowerTests(ITestOutputHelper log)
{
    /// <summary>Two smooth images in [-1, 1] (N, 3, 224, 224): low-frequency waves plus noise, different per image.</summary>
    private static float[] Images(int count)
    {
        var data = new float[count * 3 * 224 * 224];
        var rng = new Random(5);
        for (int n = 0; n < count; n++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 224; y++)
                    for (int x = 0; x < 224; x++)
                        data[((n * 3 + c) * 224 + y) * 224 + x] = (float)Math.Clamp(0.45 * Math.Sin(x / (8.0 + c + 3 * n) + y / 21.0)
                            + 0.3 * Math.Cos(y / (12.0 - c) - n) + 0.1 * (rng.NextDouble() - 0.5), -1, 1);
        return data;
    }

    [SkippableFact]
    public void FeaturesMatchResNet18OnnxRunByOnnxRuntime()
    {
        TestPaths.SkipUnlessResNet18Onnx();
        var images = Images(2);
        // ONNX Runtime on the file as it is: mean-subtracted 0..255 pixels = [-1, 1] x 127.5; one image at a time (1x3x224x224).
        var reference = new List<float>();
        using (var session = new InferenceSession(TestPaths.ResNet18Onnx))
            for (int n = 0; n < 2; n++)
            {
                var pixels = images.AsSpan(n * 3 * 224 * 224, 3 * 224 * 224).ToArray().Select(v => v * 127.5f).ToArray();
                using var results = session.Run([NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(pixels, [1, 3, 224, 224]))]);
                reference.AddRange(results.Single().AsTensor<float>());
            }

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var tower = new ResNet18Tower(0, 3);
        tower.LoadImageNet(TestPaths.ResNet18Onnx);
        tower.eval();
        var x = tensor(images, [2, 3, 224, 224]);
        var features = tower.Features(x);
        Assert.Equal([2L, 512], features.shape);
        tower.to(ScalarType.Float64);
        var features64 = tower.Features(x.to(ScalarType.Float64));
        var expected = tensor(reference.ToArray(), [2, 512]);
        double vsOnnx = TestPaths.RelativeL2(features, expected), vs64 = TestPaths.RelativeL2(features, features64), onnxVs64 = TestPaths.RelativeL2(expected, features64);
        log.WriteLine($"ResNet18Tower vs ResNet18.onnx (ONNX Runtime), batch 2 at 224: relative L2 {vsOnnx:E2}; vs float64: TorchSharp {vs64:E2}, ONNX Runtime {onnxVs64:E2}");
        Assert.True(vsOnnx < 1e-4, $"relative error {vsOnnx} vs ONNX Runtime");
        Assert.True(vs64 < 1e-4, $"relative error {vs64} vs float64");
    }

    [SkippableFact]
    public void FlowTowerAveragesTheRgbFiltersAndCopiesTheRest()
    {
        TestPaths.SkipUnlessResNet18Onnx();
        using var rgb = new ResNet18Tower(0, 3);
        rgb.LoadImageNet(TestPaths.ResNet18Onnx);
        using var flow = new ResNet18Tower(7, 20);
        flow.LoadImageNet(TestPaths.ResNet18Onnx);
        var r = rgb.state_dict();
        var f = flow.state_dict();
        using var mean = r["conv1.weight"].mean([1], keepdim: true);
        Assert.Equal([64L, 20, 1, 7, 7], f["conv1.weight"].shape);
        for (int c = 0; c < 20; c++) Assert.True(f["conv1.weight"].narrow(1, c, 1).allclose(mean), $"conv1 channel {c}");
        Assert.True(f["layer4.2.conv2.weight"].equal(r["layer4.2.conv2.weight"]).all().item<bool>());
        Assert.True(f["layer3.0.downsample.1.running_var"].equal(r["layer3.0.downsample.1.running_var"]).all().item<bool>());
        Assert.Equal([7L, 512], f["fc.weight"].shape);
    }

    [SkippableFact]
    public void AnotherFileIsRefusedNamingIt()
    {
        TestPaths.SkipUnlessResNet18Onnx();
        string preprocess = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(TestPaths.ResNet18Onnx))!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        using var tower = new ResNet18Tower(0, 3);
        var e = Assert.Throws<InvalidDataException>(() => tower.LoadImageNet(preprocess));
        Assert.Contains(preprocess, e.Message);
        string text = Path.Combine(Path.GetTempPath(), $"not-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllText(text, "this is not an ONNX model\n");
        try
        {
            e = Assert.Throws<InvalidDataException>(() => tower.LoadImageNet(text));
            Assert.Contains(text, e.Message);
        }
        finally { File.Delete(text); }
    }

    /// <summary>The three 2-D architectures with ResNet-18 towers: the paper's inputs at 224 give one score per class.</summary>
    [Fact]
    public void ArchitecturesOnResNet18TowersTakeThePapersClips()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (backbone, channels) in new[] { (VideoBackbones.TwoStream2dResNet18, 3), (VideoBackbones.TwoStream2dResNet18, 2),
            (VideoBackbones.ConvNetLstmResNet18, 3), (VideoBackbones.Fused3dTwoStreamResNet18, 5) })
        {
            var protocol = backbone.Protocol(VideoStreams.OfChannels(channels));
            int frames = backbone == VideoBackbones.ConvNetLstmResNet18 ? 5 : protocol.Frames; // the LSTM takes any length: 5 here for time
            using var net = backbone.Build(7, channels);
            net.eval();
            long parameters = Parameters(net);
            var logits = backbone.Logits(net, Clip(1, channels, frames, 224, 224));
            log.WriteLine($"{backbone.Name} ({channels} channels, {frames} frames): {parameters:N0} parameters with 7 classes, logits {Shape(logits)}");
            Assert.Equal([1L, 7], logits.shape);
            Assert.False(logits.isnan().any().item<bool>());
        }
        Assert.Equal("two-stream-resnet18", VideoBackbones.TwoStream2dResNet18.CliName);
        Assert.Same(VideoBackbones.Fused3dTwoStreamResNet18, VideoBackbones.Get("Fused3dTwoStreamResNet18"));
    }

    /// <summary>The experiments' ImageNet start: each architecture takes the file of its kind, the others train from scratch.</summary>
    [Fact]
    public void ExperimentsStartEachArchitectureFromItsKindOfImageNetFile()
    {
        var settings = new I3D.MLNet.Torch.Experiments.ExperimentSettings(ImageNet: ["/data/googlenet.pt", "/data/ResNet18.onnx"]);
        Assert.Equal("/data/ResNet18.onnx", settings.ImageNetFor(VideoBackbones.TwoStream2dResNet18));
        Assert.Equal("/data/ResNet18.onnx", settings.ImageNetFor(VideoBackbones.ResNet18));
        Assert.Equal("/data/googlenet.pt", settings.ImageNetFor(VideoBackbones.TwoStream2d));
        Assert.Equal("/data/googlenet.pt", settings.ImageNetFor(VideoBackbones.InceptionI3d));
        Assert.Null(settings.ImageNetFor(VideoBackbones.C3D)); // the paper trains it from scratch
        var trainer = settings.Trainer(VideoBackbones.ConvNetLstmResNet18, "/tmp/checkpoints", null);
        Assert.Equal(I3D.MLNet.Torch.Training.I3DInitialization.InflatedImageNet, trainer.Initialization);
        Assert.Equal("/data/ResNet18.onnx", trainer.RgbWeights);
        Assert.Equal(I3D.MLNet.Torch.Training.I3DInitialization.Scratch, new I3D.MLNet.Torch.Experiments.ExperimentSettings().Trainer(VideoBackbones.ConvNetLstmResNet18, "/tmp/c", null).Initialization);
        Assert.Null(new I3D.MLNet.Torch.Experiments.ExperimentSettings(ImageNet: ["/data/ResNet18.onnx"]).ImageNetFor(VideoBackbones.Fused3dTwoStream));
    }
}
