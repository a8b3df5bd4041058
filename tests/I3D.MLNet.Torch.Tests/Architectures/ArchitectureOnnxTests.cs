using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Onnx;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Architectures.ArchitectureTestNetworks;
using static I3D.MLNet.Torch.Tests.Onnx.OnnxTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Architectures;

/// <summary>ONNX export of the four architectures: ONNX Runtime's logits vs TorchSharp's eval logits, batch 2, relative L2 &lt; 1e-4.</summary>
public sealed class ArchitectureOnnxTests(ITestOutputHelper log)
{
    private const double Tolerance = 1e-4;

    /// <param name="float64">Also run the network in float64 as the reference of both (C3D: skipped, ~30 s here; its
    /// float32 measured 5.5e-7 from float64 on the AMD machine).</param>
    private void Compare(string what, nn.Module<Tensor, Tensor> net, byte[] model, Tensor x, int classes, bool float64 = true)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (onnx, shape) = Run(model, x);
        Assert.Equal([x.shape[0], classes], shape);
        var expected = net.forward(x).data<float>().ToArray();
        double err = RelativeL2(onnx, expected);
        double spread = expected.Max() - expected.Min();
        string vs64 = "";
        if (float64)
        {
            // The float64 network as the reference of both (libtorch's float32 kernels are wrong for some shapes on some CPUs).
            net.to(ScalarType.Float64);
            var reference = net.forward(x.to(ScalarType.Float64)).to(ScalarType.Float32).data<float>().ToArray();
            net.to(ScalarType.Float32);
            vs64 = $"; vs TorchSharp float64: ONNX {RelativeL2(onnx, reference):E2}, TorchSharp float32 {RelativeL2(expected, reference):E2}";
        }
        log.WriteLine($"{what}: ONNX Runtime vs TorchSharp relative L2 {err:E2}{vs64} (logit spread {spread:G3}, {model.Length / 1e6:0.0} MB)");
        Assert.True(spread > 1e-3, $"degenerate logits (spread {spread}): the comparison would say nothing");
        Assert.True(err < Tolerance, $"{what}: relative error {err}");
    }

    [Theory]
    [InlineData(3, 3)]
    [InlineData(2, 20)]
    public void TwoStream2dMatchesTorchSharp(int channels, int frames)
    {
        manual_seed(30 + channels);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new TwoStream2d(6, channels), seed: channels);
        byte[] model = ArchitectureExport.Export(net, new OnnxExportOptions { Size = 96 });
        using var x = Clip(2, channels, frames, 96, 96);
        Compare($"TwoStream2d C={channels} T={frames} 96x96", net, model, x, 6);
        // Time is symbolic: another length runs through the same model.
        using var longer = Clip(2, channels, frames * 2, 96, 96);
        Compare($"TwoStream2d C={channels} T={frames * 2} 96x96 (same model)", net, model, longer, 6);
    }

    [Fact]
    public void C3DMatchesTorchSharp()
    {
        manual_seed(40);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new C3D(5), seed: 41);
        byte[] model = VideoBackbones.C3D.ExportOnnx(net, new OnnxExportOptions { Size = 112 });
        using var x = Clip(2, 3, 16, 112, 112);
        Compare("C3D 16x112x112", net, model, x, 5, float64: false);
        using var session = new InferenceSession(model);
        Assert.Equal([-1, 3, 16, 112, 112], session.InputMetadata[I3DOnnxFormat.InputName].Dimensions);
        Assert.Equal("C3D", session.ModelMetadata.CustomMetadataMap[I3DOnnxFormat.BackboneKey]);
        Assert.Contains("112", Assert.Throws<ArgumentException>(() => VideoBackbones.C3D.ExportOnnx(net, new OnnxExportOptions())).Message);
    }

    [Fact]
    public void ConvNetLstmMatchesTorchSharp()
    {
        manual_seed(50);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new ConvNetLstm(6), seed: 51);
        byte[] model = ArchitectureExport.Export(net, new OnnxExportOptions { Size = 64 }, frames: 5);
        using var x = Clip(2, 3, 5, 64, 64);
        Compare("ConvNetLstm T=5 64x64 (unrolled)", net, model, x, 6);
    }

    [Fact]
    public void Fused3dTwoStreamMatchesTorchSharp()
    {
        manual_seed(60);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new Fused3dTwoStream(6, snippets: 2), seed: 61);
        byte[] model = ArchitectureExport.Export(net, new OnnxExportOptions { Size = 96, Classes = ["a", "b", "c", "d", "e", "f"] });
        using var x = Clip(2, 5, 20, 96, 96);
        Compare("Fused3dTwoStream K=2 L=10 96x96", net, model, x, 6);
        using var session = new InferenceSession(model);
        Assert.Equal([-1, 5, 20, 96, 96], session.InputMetadata[I3DOnnxFormat.InputName].Dimensions);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("rgb+flow", meta[I3DOnnxFormat.StreamKey]);
        Assert.Equal("a\nb\nc\nd\ne\nf", meta[I3DOnnxFormat.ClassesKey]);
    }

    /// <summary>The ResNet-18 towers (1x3x3 blocks over the frame axis, input scaled by 127.5 inside) in each 2-D architecture.</summary>
    [Theory]
    [InlineData(3, 2)]
    [InlineData(2, 10)]
    public void TwoStream2dResNet18MatchesTorchSharp(int channels, int frames)
    {
        manual_seed(70 + channels);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new TwoStream2d(6, channels, tower: TowerKind.ResNet18), seed: channels);
        byte[] model = VideoBackbones.TwoStream2dResNet18.ExportOnnx(net, new OnnxExportOptions { Size = 64 });
        using var x = Clip(2, channels, frames, 64, 64);
        Compare($"TwoStream2dResNet18 C={channels} T={frames} 64x64", net, model, x, 6);
        using var session = new InferenceSession(model);
        Assert.Equal("TwoStream2dResNet18", session.ModelMetadata.CustomMetadataMap[I3DOnnxFormat.BackboneKey]);
        Assert.Contains("multiple of 32", Assert.Throws<ArgumentException>(() => VideoBackbones.TwoStream2dResNet18.ExportOnnx(net, new OnnxExportOptions { Size = 96 + 8 })).Message);
    }

    [Fact]
    public void ConvNetLstmResNet18MatchesTorchSharp()
    {
        manual_seed(80);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new ConvNetLstm(6, tower: TowerKind.ResNet18), seed: 81);
        byte[] model = VideoBackbones.ConvNetLstmResNet18.ExportOnnx(net, new OnnxExportOptions { Size = 64, Frames = 4 });
        using var x = Clip(2, 3, 4, 64, 64);
        Compare("ConvNetLstmResNet18 T=4 64x64 (unrolled)", net, model, x, 6);
    }

    [Fact]
    public void Fused3dTwoStreamResNet18MatchesTorchSharp()
    {
        manual_seed(90);
        using var net = Onnx.OnnxTestNetworks.RandomizeBatchNorms(new Fused3dTwoStream(6, snippets: 2, tower: TowerKind.ResNet18), seed: 91);
        byte[] model = ArchitectureExport.Export(net, new OnnxExportOptions { Size = 64 });
        using var x = Clip(2, 5, 20, 64, 64);
        Compare("Fused3dTwoStreamResNet18 K=2 L=10 64x64", net, model, x, 6);
    }
}
