using I3D.MLNet.Scoring;
using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Onnx;
using I3D.MLNet.Testing;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Numerics;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Onnx.OnnxTestNetworks;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Onnx;

/// <summary>mlContext.Transforms.ScoreI3D: LoadVideo -> SampleClips -> ONNX streams, against TorchSharp on the same clips.</summary>
public sealed class ScoreI3DTests(ITestOutputHelper log) : IDisposable
{
    private static readonly string[] Classes = ["abseiling", "basketball", "cricket", "dancing", "eating"];
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-score-onnx").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static (InceptionI3d Net, byte[] Model) Stream(int channels, int seed, int size = 112)
    {
        manual_seed(seed);
        var net = RandomizeBatchNorms(new InceptionI3d(numClasses: Classes.Length, inChannels: channels), seed);
        return (net, OnnxExporter.Export(net, new OnnxExportOptions { Size = size, Classes = Classes }));
    }

    private static IEstimator<ITransformer> Clips(MLContext ml, int size = 112, int frames = 16) =>
        ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = 128, MaximumFrames = 40 } })
            .Append(ml.Transforms.SampleClips("RgbClip", "Frames", new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = frames, CropSize = size }));

    private static IDataView Videos(MLContext ml, params (string File, string Label)[] videos)
    {
        var rows = videos.Select(v => new LabelledVideo { Path = SharedData.Video(v.File), Label = v.Label }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        return ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyData: VideoDataset.KeyDataOf(ml, Classes)).Fit(data).Transform(data);
    }

    private static List<(float[] Clip, float[] Score, uint Predicted)> Read(IDataView scored)
    {
        var result = new List<(float[], float[], uint)>();
        using var cursor = scored.GetRowCursor([scored.Schema["RgbClip"], scored.Schema["Score"], scored.Schema["PredictedLabel"]]);
        var clip = cursor.GetGetter<VBuffer<float>>(scored.Schema["RgbClip"]);
        var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var label = cursor.GetGetter<uint>(scored.Schema["PredictedLabel"]);
        VBuffer<float> c = default, s = default;
        uint l = 0;
        while (cursor.MoveNext())
        {
            clip(ref c);
            score(ref s);
            label(ref l);
            result.Add((c.DenseValues().ToArray(), s.DenseValues().ToArray(), l));
        }
        return result;
    }

    [SkippableFact]
    public void PipelineScoresMatchTorchSharpAndSaveIntoTheZip()
    {
        var data = Videos(new MLContext(1), ("v_Basketball_g01_c01.avi", "basketball"), ("abseiling_k400.mp4", "abseiling"));
        var (net, model) = Stream(3, seed: 7);
        using (net)
        {
            var ml = new MLContext(1);
            var warnings = new List<string>();
            ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) warnings.Add(e.Message); };
            var pipeline = Clips(ml).Append(ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = model, Session = new OnnxSessionSettings { IntraOpThreads = 2 } }));
            var fitted = pipeline.Fit(data);
            var rows = Read(fitted.Transform(data));
            Assert.Equal(2, rows.Count);
            using var noGrad = no_grad();
            foreach (var (clip, score, predicted) in rows)
            {
                using var x = tensor(clip, [1, 3, 16, 112, 112]);
                using var logits = net.forward(x);
                using var expected = logits.softmax(1);
                double err = RelativeL2(score, expected.data<float>().ToArray());
                log.WriteLine($"ScoreI3D vs TorchSharp softmax: relative L2 {err:E2}; predicted {Classes[predicted - 1]}");
                Assert.True(err < 1e-4, $"relative error {err}");
                Assert.Equal(ClassScoresArgMax(score) + 1, (int)predicted);
            }
            Assert.Empty(warnings);

            // The annotations MulticlassClassification.Evaluate needs, and the class names as key values.
            var scored = fitted.Transform(data);
            var metrics = ml.MulticlassClassification.Evaluate(scored);
            Assert.InRange(metrics.MicroAccuracy, 0, 1);
            VBuffer<ReadOnlyMemory<char>> keys = default;
            scored.Schema["PredictedLabel"].GetKeyValues(ref keys);
            Assert.Equal(Classes, keys.DenseValues().Select(k => k.ToString()));

            // Saved with the ONNX bytes inside, loaded back: the same scores.
            string zip = Path.Combine(dir, "model.zip");
            ml.Model.Save(fitted, data.Schema, zip);
            var loaded = new MLContext(2).Model.Load(zip, out _);
            var again = Read(loaded.Transform(data));
            for (int i = 0; i < rows.Count; i++) Assert.Equal(rows[i].Score, again[i].Score);
        }
    }

    private static int ClassScoresArgMax(float[] v) => Array.IndexOf(v, v.Max());

    [SkippableFact]
    public void CudaWithoutAGpuFallsBackToTheCpuWithAWarning()
    {
        var data = Videos(new MLContext(1), ("v_Basketball_g01_c01.avi", "basketball"));
        var (net, model) = Stream(3, seed: 8);
        net.Dispose();
        var ml = new MLContext(1);
        var cpu = Clips(ml).Append(ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = model })).Fit(data);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) warnings.Add(e.Message); };
        var estimator = ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = model, Session = new OnnxSessionSettings { ExecutionProvider = OnnxExecutionProvider.Cuda } });
        bool hasGpu = File.Exists("/dev/nvidia0");
        Skip.If(hasGpu, "a GPU is present: the fallback cannot be exercised");
        var transformer = estimator.Fit(Clips(ml).Fit(data).Transform(data));
        Assert.Equal("CPU", transformer.ExecutionProviders[VideoStream.Rgb]);
        var warning = Assert.Single(warnings, w => w.Contains("CUDA"));
        log.WriteLine(warning);
        Assert.Contains("running on the CPU", warning);
        var viaCuda = Read(transformer.Transform(Clips(ml).Fit(data).Transform(data)));
        var viaCpu = Read(cpu.Transform(data));
        Assert.Equal(viaCpu[0].Score, viaCuda[0].Score);
    }

    [SkippableFact]
    public void TwoStreamsSumTheLogits()
    {
        // Flow-shaped clips need not be real flow to test the fusion: the RGB clip's first two channels stand in.
        var (rgbNet, rgb) = Stream(3, seed: 11);
        var (flowNet, flow) = Stream(2, seed: 12);
        using (rgbNet) using (flowNet)
        {
            var ml = new MLContext(1);
            var rgbClip = empty([1, 3, 10, 112, 112]).uniform_(-1, 1).data<float>().ToArray();
            var flowClip = rgbClip[..(2 * 10 * 112 * 112)];
            var data = ml.Data.LoadFromEnumerable([new TwoClips { RgbClip = rgbClip, FlowClip = flowClip }]);
            var scorer = ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = rgb, FlowModel = flow }).Fit(data);
            Assert.Equal(Classes, scorer.Classes);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var joint = rgbNet.forward(tensor(rgbClip, [1, 3, 10, 112, 112])).Plus(flowNet.forward(tensor(flowClip, [1, 2, 10, 112, 112])));
            var expected = joint.softmax(1).data<float>().ToArray();
            var scored = scorer.Transform(data);
            var score = scored.GetColumn<float[]>("Score").Single();
            double err = RelativeL2(score, expected);
            log.WriteLine($"two streams: relative L2 {err:E2}");
            Assert.True(err < 1e-4, $"relative error {err}");
            Assert.True(RelativeL2(score, rgbNet.forward(tensor(rgbClip, [1, 3, 10, 112, 112])).softmax(1).data<float>().ToArray()) > 1e-3, "the flow stream changed nothing");
        }
    }

    [SkippableFact]
    public void RgbAndTvL1FlowPipelineMatchesTorchSharp()
    {
        var data = Videos(new MLContext(1), ("v_Basketball_g01_c01.avi", "basketball"));
        var (rgbNet, rgb) = Stream(3, seed: 21);
        var (flowNet, flow) = Stream(2, seed: 22);
        using (rgbNet) using (flowNet)
        {
            var ml = new MLContext(1);
            var sampling = new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = 10, CropSize = 112 };
            var pipeline = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = 128, MaximumFrames = 12 } })
                .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames"))
                .Append(ml.Transforms.SampleClips("FlowClip", "Flow", sampling))
                .Append(ml.Transforms.SampleClips("RgbClip", "Frames", sampling))
                .Append(ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = rgb, FlowModel = flow }));
            var scored = pipeline.Fit(data).Transform(data);
            var rgbClip = scored.GetColumn<float[]>("RgbClip").Single();
            var flowClip = scored.GetColumn<float[]>("FlowClip").Single();
            var score = scored.GetColumn<float[]>("Score").Single();
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var joint = rgbNet.forward(tensor(rgbClip, [1, 3, 10, 112, 112])).Plus(flowNet.forward(tensor(flowClip, [1, 2, 10, 112, 112])));
            double err = RelativeL2(score, joint.softmax(1).data<float>().ToArray());
            log.WriteLine($"RGB + TV-L1 flow pipeline: relative L2 {err:E2}");
            Assert.True(err < 1e-4, $"relative error {err}");
        }
    }

    private sealed class TwoClips
    {
        [VectorType(1, 3, 10, 112, 112)]
        public float[] RgbClip { get; set; } = [];

        [VectorType(1, 2, 10, 112, 112)]
        public float[] FlowClip { get; set; } = [];
    }

    [Fact]
    public void RefusesFilesThatAreNotOnnx()
    {
        var e = Assert.Throws<InvalidDataException>(() => new MLContext().Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = "not a model"u8.ToArray() }));
        Assert.Contains("not an ONNX model", e.Message);
    }

    [Fact]
    public void RefusesOnnxModelsWithOtherInputs()
    {
        var b = new OnnxModelBuilder("identity");
        b.Input(OnnxModelBuilder.Value("x", OnnxModelBuilder.Float, "batch", 3L, 224L, 224L));
        b.Node("Identity", "y", ["x"]);
        b.Output(OnnxModelBuilder.Value("y", OnnxModelBuilder.Float, "batch", 3L, 224L, 224L));
        byte[] model = Google.Protobuf.MessageExtensions.ToByteArray(b.Build(17, [], "not I3D"));
        var e = Assert.Throws<InvalidDataException>(() => new MLContext().Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = model }));
        log.WriteLine(e.Message);
        Assert.Contains("input 'clip' float [batch, 3, 2 or 5, time, H, W]", e.Message);
        Assert.Contains("it has input 'x' float [batch, 3, 224, 224]", e.Message);
    }

    [Fact]
    public void RefusesAFlowModelGivenAsRgbAndClipsOfAnotherSize()
    {
        var (net, flow) = Stream(2, seed: 3);
        net.Dispose();
        var ml = new MLContext();
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = flow }));
        Assert.Contains("given as the rgb model but it is a flow model", e.Message);
        manual_seed(5);
        using (var three = new InceptionI3d(numClasses: 3, inChannels: 3))
        {
            var other = OnnxExporter.Export(three, new OnnxExportOptions { Size = 112 });
            var mixed = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = other, FlowModel = flow }));
            Assert.Contains("the rgb ONNX model has 3 classes and the flow ONNX model 5 (or other names): their logits cannot be summed", mixed.Message);
        }

        var data = ml.Data.LoadFromEnumerable([new TwoClips { RgbClip = new float[3 * 10 * 112 * 112], FlowClip = new float[2 * 10 * 112 * 112] }]);
        var (net96, flow96) = Stream(2, seed: 4, size: 96);
        net96.Dispose();
        var wrong = Assert.Throws<ArgumentException>(() => ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { FlowModel = flow96 }).Fit(data).Transform(data));
        log.WriteLine(wrong.Message);
        Assert.Contains("1 x 2 x 10 x 112 x 112", wrong.Message);
        Assert.Contains("[batch, 2, time, 96, 96]", wrong.Message);
    }
}
