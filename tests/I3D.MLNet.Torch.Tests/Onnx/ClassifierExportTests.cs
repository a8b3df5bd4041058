using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Scoring;
using I3D.MLNet.Onnx;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Onnx.OnnxTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Onnx;

/// <summary>Export of a trained classifier's streams (what <c>i3d export-onnx --model</c> does): one model per stream, same logits.</summary>
public sealed class ClassifierExportTests(ITestOutputHelper log)
{
    [Fact]
    public void EachStreamOfAClassifierExportsWithItsClassesAndScaling()
    {
        string[] classes = ["x", "y", "z"];
        manual_seed(30);
        var rgb = new StreamNetwork(VideoStream.Rgb, "RgbClip", VideoBackbones.InceptionI3d, 3, 3, RandomizeBatchNorms(new InceptionI3d(3, 3), 1));
        var flow = new StreamNetwork(VideoStream.Flow, "FlowClip", VideoBackbones.ResNet18, 3, 2, RandomizeBatchNorms(new ResNet3d18(3, 2, [2, 2, 2, 3]), 2));
        using var classifier = new I3DPredictionTransformer(new MLContext(), new I3DPredictionTransformer.Description("Score", "PredictedLabel", classes,
            [new(VideoStream.Rgb, "RgbClip", VideoBackbones.InceptionI3d.Name, 3), new(VideoStream.Flow, "FlowClip", VideoBackbones.ResNet18.Name, 2)]), [rgb, flow]);
        var exported = OnnxExporter.Export(classifier, 96);
        Assert.Equal([VideoStream.Rgb, VideoStream.Flow], exported.Select(e => e.Stream));
        foreach (var (stream, bytes) in exported)
        {
            using var model = I3DOnnxModel.Load(bytes, stream.Name());
            Assert.Equal(stream, model.Stream);
            Assert.Equal(classes, model.Classes);
            int channels = stream.Channels();
            long[] shape = [2, channels, 12, 96, 96];
            var clips = empty(shape).uniform_(-1, 1).data<float>().ToArray();
            var onnx = model.Logits(clips, shape);
            var torch = classifier.StreamLogits(stream, clips, shape);
            double err = RelativeL2(onnx, torch);
            log.WriteLine($"{stream} stream ({(stream == VideoStream.Rgb ? "InceptionI3d" : "ResNet3d18, x127.5")}): relative L2 {err:E2}");
            Assert.True(err < 1e-4, $"{stream}: relative error {err}");
        }
    }
}
