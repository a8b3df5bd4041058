using System.Text.Json;
using I3D.MLNet.Cli.Commands;
using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.IO;
using I3D.MLNet.Onnx;
using I3D.MLNet.Testing;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace I3D.MLNet.Cli.Tests;

/// <summary><c>i3d export-onnx</c>, <c>i3d predict --model X.onnx</c>, and ScoreI3D pipelines reloaded by a new <c>i3d</c> process.</summary>
public sealed class OnnxCommandTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-cli-onnx").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static (int ExitCode, string Out, string Err) Predict(params string[] args) => PredictCommandTests.Run(args);

    [SkippableFact]
    public void ExportedFixtureWeightsPredictTheReferenceLogits()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string f = TestPaths.SharedFixtures, onnx = Path.Combine(dir, "rgb.onnx");
        var export = I3dProcess.Ok("export-onnx", "--rgb-weights", Path.Combine(f, "rgb_random.pt"), "--out", onnx);
        Assert.Equal(onnx, export.Stdout.Trim());
        var expected = Npy.Read(Path.Combine(f, "rgb_random_logits.npy")).Data;
        foreach (var device in new[] { "cpu", "cuda" })
        {
            var (rc, stdout, stderr) = Predict(Path.Combine(f, "rgb_random_input.npy"), "--model", onnx, "--json", "--device", device);
            Assert.True(rc == 0, stderr);
            using var doc = JsonDocument.Parse(stdout);
            var result = Assert.Single(doc.RootElement.GetProperty("results").EnumerateArray());
            double rel = PredictCommandTests.RelativeL2(PredictCommandTests.Floats(result.GetProperty("logits")), expected);
            log.WriteLine($"predict --model rgb.onnx --device {device}: relative L2 vs reference {rel:E2}; stderr: {stderr.Trim()}");
            Assert.True(rel < 1e-4, $"relative error {rel}");
            Assert.Equal(["rgb"], result.GetProperty("streams").EnumerateObject().Select(p => p.Name));
            var top = result.GetProperty("top")[0];
            Assert.Equal(350, top.GetProperty("index").GetInt32());
            Assert.Equal("tapping guitar", top.GetProperty("label").GetString()); // Kinetics-400 names written into the metadata
            if (device == "cuda") Assert.Contains("CUDA was asked for but cannot be used", stderr);
            else Assert.Equal("", stderr);
        }
    }

    [Fact]
    public void BadModelsAndClipsAreOneLineErrors()
    {
        string notOnnx = Path.Combine(dir, "model.onnx"), clip = Path.Combine(dir, "clip.npy"), small = Path.Combine(dir, "small.onnx");
        File.WriteAllText(notOnnx, "hello");
        Npy.Write(clip, new float[1 * 9 * 64 * 64 * 3], 1, 9, 64, 64, 3);
        var (rc, _, err) = Predict(clip, "--model", notOnnx);
        Assert.Equal(1, rc);
        Assert.Contains("not an ONNX model", err);
        Assert.Single(err.Trim().Split('\n'));

        manual_seed(1);
        using (var net = new InceptionI3d(numClasses: 3, inChannels: 3))
        {
            net.eval();
            OnnxExporter.Save(OnnxExporter.Export(net, new OnnxExportOptions { Size = 96 }), small);
        }
        (rc, _, err) = Predict(clip, "--model", small);
        Assert.Equal(1, rc);
        log.WriteLine(err);
        Assert.Contains("1 x 3 x 9 x 64 x 64", err);
        Assert.Contains("takes [batch, 3, time, 96, 96]", err);

        (rc, _, err) = Predict(clip, "--model", small, "--flow-model", small);
        Assert.Equal(1, rc);
        Assert.Contains("both rgb models", err);

        // RGB weights given as the flow stream: a sentence, not an internal error.
        string weights = Path.Combine(dir, "rgb.pt");
        using (var net = new InceptionI3d(numClasses: 3, inChannels: 3)) I3D.MLNet.Torch.Weights.ModuleWeights.Save(net, weights);
        var export = I3dProcess.Run("export-onnx", "--flow-weights", weights, "--out", Path.Combine(dir, "flow.onnx"));
        Assert.Equal(1, export.ExitCode);
        Assert.Equal($"i3d: {weights}: given as flow weights but holds an RGB network (3 input channels, flow needs 2)", export.Stderr.Trim());
    }

    /// <summary>
    /// An ONNX model exported at 96 x 96 runs on a video with no size option (predict crops to the size the model
    /// declares), gives the TorchSharp weights' logits at --crop-size 96, and --crop-size 64 is refused naming both sizes.
    /// </summary>
    [Fact]
    public void PredictCropsVideosToTheOnnxModelsSize()
    {
        string video = Path.Combine(dir, "moving.avi"), weights = Path.Combine(dir, "net.pt"), onnx = Path.Combine(dir, "net96.onnx");
        using (var writer = new OpenCvSharp.VideoWriter(video, OpenCvSharp.FourCC.MJPG, 25, new OpenCvSharp.Size(80, 60)))
        using (var frame = new OpenCvSharp.Mat(60, 80, OpenCvSharp.MatType.CV_8UC3))
            for (int t = 0; t < 12; t++)
            {
                frame.SetTo(new OpenCvSharp.Scalar(30, 60, 90));
                OpenCvSharp.Cv2.Circle(frame, new OpenCvSharp.Point(10 + 5 * t, 30), 8, new OpenCvSharp.Scalar(250, 200, 20), -1);
                writer.Write(frame);
            }
        manual_seed(5);
        using (var net = new InceptionI3d(numClasses: 3, inChannels: 3))
        {
            net.eval();
            using var thousand = 1000.ToScalar();
            using (no_grad())
                foreach (var (name, p) in net.named_parameters())
                    if (name.StartsWith("logits", StringComparison.Ordinal) && name.EndsWith("weight", StringComparison.Ordinal)) p.mul_(thousand); // logits that follow the video, not the bias
            I3D.MLNet.Torch.Weights.ModuleWeights.Save(net, weights);
            OnnxExporter.Save(OnnxExporter.Export(net, new OnnxExportOptions { Size = 96 }), onnx);
        }
        float[] Logits(params string[] args)
        {
            var (rc, stdout, stderr) = Predict([video, .. args, "--json", "--device", "cpu"]);
            Assert.True(rc == 0, stderr);
            return PredictCommandTests.Floats(JsonDocument.Parse(stdout).RootElement.GetProperty("results")[0].GetProperty("logits"));
        }
        var fromOnnx = Logits("--model", onnx);
        var fromWeights = Logits("--rgb-weights", weights, "--crop-size", "96");
        double rel = PredictCommandTests.RelativeL2(fromOnnx, fromWeights);
        log.WriteLine($"predict VIDEO --model net96.onnx vs --rgb-weights net.pt --crop-size 96: relative L2 {rel:E2} ({string.Join(", ", fromOnnx)} vs {string.Join(", ", fromWeights)})");
        Assert.True(rel < 1e-4, $"relative error {rel}");
        Assert.Equal(fromOnnx, Logits("--model", onnx, "--crop-size", "96"));
        var at112 = Logits("--rgb-weights", weights, "--crop-size", "112");
        log.WriteLine($"--rgb-weights at --crop-size 112: {string.Join(", ", at112)}");
        Assert.True(PredictCommandTests.RelativeL2(at112, fromWeights) > 1e-4, "the crop size must change the logits, or the check above proves nothing");

        var (code, _, err) = Predict(video, "--model", onnx, "--crop-size", "64");
        Assert.Equal(1, code);
        Assert.Contains("64 x 64", err);
        Assert.Contains("takes [batch, 3, time, 96, 96]", err);
    }

    /// <summary>LoadVideo -> SampleClips -> ScoreI3D fitted here, saved, and scored again by the built i3d in a new process.</summary>
    [SkippableFact]
    public void ScoreI3DPipelineZipGivesTheSameScoresInANewProcess()
    {
        string video = SharedData.Video("v_Basketball_g01_c01.avi");
        string[] classes = ["a", "b", "c", "d", "e"];
        manual_seed(4);
        byte[] model;
        using (var net = new InceptionI3d(numClasses: classes.Length, inChannels: 3))
        {
            net.eval();
            model = OnnxExporter.Export(net, new OnnxExportOptions { Size = 112, Classes = classes });
        }
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable([new LabelledVideo { Path = video, Label = "a" }]);
        var pipeline = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = 128, MaximumFrames = 40 } })
            .Append(ml.Transforms.SampleClips("RgbClip", "Frames", new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = 16, CropSize = 112 }))
            .Append(ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = model }));
        var fitted = pipeline.Fit(data);
        var score = fitted.Transform(data).GetColumn<float[]>("Score").Single();
        string zip = Path.Combine(dir, "onnx-pipeline.zip");
        ml.Model.Save(fitted, data.Schema, zip);

        var run = I3dProcess.Ok("predict", video, "--model", zip, "--json", "--top", classes.Length.ToString());
        using var doc = JsonDocument.Parse(run.Stdout);
        var result = Assert.Single(doc.RootElement.GetProperty("results").EnumerateArray());
        var fromProcess = new float[classes.Length];
        foreach (var t in result.GetProperty("top").EnumerateArray())
        {
            int i = t.GetProperty("index").GetInt32();
            Assert.Equal(classes[i], t.GetProperty("label").GetString());
            fromProcess[i] = t.GetProperty("probability").GetSingle();
        }
        double maxDiff = score.Zip(fromProcess, (a, b) => Math.Abs(a - b)).Max();
        log.WriteLine($"in-process scores {string.Join(", ", score)}; new process {string.Join(", ", fromProcess)}; max |diff| {maxDiff:E2}");
        Assert.Equal(score, fromProcess);
        Assert.Equal(["rgb"], result.GetProperty("streams").EnumerateObject().Select(p => p.Name));
    }

    /// <summary>i3d train on a tiny synthetic set, then export-onnx --model: the ONNX stream gives the zip's logits.</summary>
    [Fact]
    public void ExportsTheStreamsOfATrainedModelZip()
    {
        string data = Path.Combine(dir, "data"), zip = Path.Combine(dir, "model.zip"), onnx = Path.Combine(dir, "model.onnx");
        I3dProcess.Ok("synth", "--out", data, "--per-class", "2", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "64", "--seed", "5");
        I3dProcess.Ok("train", "--data", Path.Combine(data, "train"), "--out", zip, "--streams", "rgb", "--clip-frames", "8", "--crop-size", "56",
            "--epochs", "1", "--batch-size", "3", "--validation-fraction", "0", "--seed", "3");
        var export = I3dProcess.Ok("export-onnx", "--model", zip, "--out", onnx);
        Assert.Equal(onnx, export.Stdout.Trim());

        var classifier = I3D.MLNet.Torch.Training.VideoClassification.Classifier(new MLContext(0).Model.Load(zip, out _));
        using var model = I3DOnnxModel.Load(onnx);
        Assert.Equal(56, model.Height); // the zip's crop size
        Assert.Equal(classifier.Classes, model.Classes);
        long[] shape = [2, 3, 8, 56, 56];
        manual_seed(9);
        var clips = empty(shape).uniform_(-1, 1).data<float>().ToArray();
        double rel = PredictCommandTests.RelativeL2(model.Logits(clips, shape), classifier.StreamLogits(I3D.MLNet.Scoring.VideoStream.Rgb, clips, shape));
        log.WriteLine($"export-onnx --model: ONNX vs the zip's TorchSharp stream, relative L2 {rel:E2}");
        Assert.True(rel < 1e-4, $"relative error {rel}");
    }
}
