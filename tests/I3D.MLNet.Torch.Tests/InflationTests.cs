using System.Reflection;
using I3D.MLNet.IO;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Inflation;
using I3D.MLNet.Torch.Numerics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests;

public class InflationTests
{
    private static string ResNet18Onnx => TestPaths.ResNet18Onnx;

    [Fact]
    public void FilterIsRepeatedAlongTimeAndDividedByT()
    {
        using var scope = NewDisposeScope();
        var w = randn([4, 3, 5, 5]);
        var w3 = Inflate.Filter(w, 7);
        Assert.Equal([4L, 3, 7, 5, 5], w3.shape);
        for (int t = 0; t < 7; t++) Assert.True(w3[.., .., t].allclose(w.DividedBy(7), rtol: 1e-6, atol: 1e-7));
        Assert.True(w3.sum(2).allclose(w, rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>
    /// The paper's "boring video" property with real ImageNet weights: the inflated ResNet-18 on one image repeated
    /// T times gives the 2-D network's pooled features (the 2-D network run by ONNX Runtime on the same image).
    /// </summary>
    [SkippableFact]
    public void BoringVideoGivesTheTwoDimensionalFeatures()
    {
        TestPaths.SkipUnlessResNet18Onnx();
        using var net = ResNet18Inflation.FromOnnx(ResNet18Onnx);
        var image = new float[3 * 224 * 224];
        var rng = new Random(3);
        // Smooth mean-subtracted pixels (ResNetPreprocess.onnx output range): a sum of low-frequency waves plus noise.
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 224; y++)
                for (int x = 0; x < 224; x++)
                    image[(c * 224 + y) * 224 + x] = (float)(60 * Math.Sin(x / (9.0 + c) + y / 23.0) + 40 * Math.Cos(y / (13.0 - c)) + 10 * (rng.NextDouble() - 0.5));

        float[] reference;
        using (var session = new InferenceSession(ResNet18Onnx))
        {
            var input = NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(image, [1, 3, 224, 224]));
            using var results = session.Run([input]);
            reference = [.. results.Single().AsTensor<float>()];
        }
        Assert.Equal(512, reference.Length);

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var frame = tensor(image, [1, 3, 1, 224, 224]);
        foreach (long frames in new long[] { 1, 8 })
        {
            var video = frame.expand(1, 3, frames, 224, 224).contiguous();
            var features = net.Features(video);
            double err = TestPaths.RelativeL2(features.flatten(), tensor(reference));
            Console.WriteLine($"boring video ({frames} frames): relative L2 error vs 2-D ResNet-18 (ONNX Runtime) {err:E2}");
            Assert.True(err < 1e-4, $"{frames} frames: relative error {err}");
        }
    }

    [SkippableFact]
    public void AnotherOnnxModelIsRefused()
    {
        string preprocess = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(ResNet18Onnx))!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        Skip.IfNot(File.Exists(preprocess), $"{preprocess} absent");
        var e = Assert.Throws<InvalidDataException>(() => ResNet18Inflation.FromOnnx(preprocess));
        Assert.Contains("not the ResNet-18", e.Message);
    }

    [SkippableFact]
    public void GoogLeNetInflatesToTheReferenceI3d()
    {
        Skip.IfNot(PythonFixtures.HasGoogLeNet, "python3-torchvision absent: no GoogLeNet fixture");
        using var net = GoogLeNetInflation.FromStateDict(PythonFixtures.PathOf("googlenet.pt"));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ClipTensor.FromKineticsLayout(Npy.Read(PythonFixtures.PathOf("googlenet_i3d_input.npy")), "googlenet input");
        double err = TestPaths.RelativeL2(net.forward(x), TestPaths.Load(PythonFixtures.PathOf("googlenet_i3d_logits.npy")));
        Console.WriteLine($"GoogLeNet-inflated I3D vs python inflation: relative L2 error {err:E2}");
        Assert.True(err < 1e-4, $"relative error {err}");

        // Another class count keeps a fresh logits layer; everything else comes from GoogLeNet.
        using var ten = GoogLeNetInflation.FromStateDict(PythonFixtures.PathOf("googlenet.pt"), numClasses: 10);
        Assert.Equal(10, ten.NumClasses);
        Assert.True(ten.state_dict()["Mixed_4b.b1b.conv3d.weight"].equal(net.state_dict()["Mixed_4b.b1b.conv3d.weight"]).all().item<bool>());
    }

    [Theory]
    [InlineData("conv1.conv.weight", "Conv3d_1a_7x7.conv3d.weight")]
    [InlineData("conv3.bn.running_var", "Conv3d_2c_3x3.bn.running_var")]
    [InlineData("inception4a.branch2.1.conv.weight", "Mixed_4b.b1b.conv3d.weight")]
    [InlineData("inception5b.branch4.1.bn.bias", "Mixed_5c.b3b.bn.bias")]
    [InlineData("inception3a.branch1.bn.weight", "Mixed_3b.b0.bn.weight")]
    [InlineData("fc.bias", "logits.conv3d.bias")]
    [InlineData("aux1.conv.conv.weight", null)]
    public void GoogLeNetKeysMapToI3dKeys(string key, string? expected) => Assert.Equal(expected, GoogLeNetInflation.MapKey(key));
}
