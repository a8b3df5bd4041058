using System.CommandLine;
using System.Text.Json;
using I3D.MLNet.Cli.Commands;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Cli.Tests;

/// <summary><c>i3d train --architecture</c>: the registry's words, and Table 1's clips for every clip option not given.</summary>
public sealed class ArchitectureOptionTests
{
    private static (ClipPipelineOptions Clips, I3DTrainerOptions Trainer) Read(params string[] args)
    {
        var training = new TrainingArguments();
        var command = new RootCommand();
        training.AddTo(command);
        var parse = command.Parse(args);
        Assert.Empty(parse.Errors);
        return training.Read(parse, null);
    }

    [Fact]
    public void AnArchitectureBringsThePapersClipsUnlessTheyAreGiven()
    {
        var (clips, trainer) = Read("--architecture", "c3d");
        Assert.Equal("C3D", trainer.Backbone);
        Assert.Equal((I3DStreams.Rgb, 16, 112, 15, 1), (clips.Streams, clips.Frames, clips.Size, clips.ClipsPerVideo, clips.FrameStride));

        (clips, trainer) = Read("--architecture", "lstm");
        Assert.Equal("ConvNetLstm", trainer.Backbone);
        Assert.Equal((I3DStreams.Rgb, 25, 5, 224), (clips.Streams, clips.Frames, clips.FrameStride, clips.Size));

        (clips, _) = Read("--architecture", "two-stream");
        Assert.Equal((I3DStreams.Both, 1, 10, 25), (clips.Streams, clips.Frames, clips.FlowFrames, clips.ClipsPerVideo));

        // Given options win; no --architecture keeps the command's defaults (I3D's 64 x 224).
        (clips, _) = Read("--architecture", "c3d", "--clip-frames", "8", "--streams", "both");
        Assert.Equal((I3DStreams.Both, 8, 112), (clips.Streams, clips.Frames, clips.Size));
        (clips, trainer) = Read();
        Assert.Equal(("InceptionI3d", 64, 224, I3DStreams.Both), (trainer.Backbone, clips.Frames, clips.Size, clips.Streams));

        // The old option and word still read.
        (_, trainer) = Read("--backbone", "inception-i3d");
        Assert.Equal("InceptionI3d", trainer.Backbone);
        (_, trainer) = Read("--backbone", "resnet18");
        Assert.Equal("ResNet18", trainer.Backbone);
    }

    /// <summary><c>--mixed-precision</c> trains InceptionI3d with bfloat16 convolutions; float32 is the default; an
    /// architecture not measured in it is refused before anything is read, in one line naming it.</summary>
    [Fact]
    public void MixedPrecisionIsAnOptionOfI3DTraining()
    {
        Assert.Equal(TrainingPrecision.Float32, Read().Trainer.Precision);
        var (_, trainer) = Read("--mixed-precision");
        Assert.Equal(TrainingPrecision.BFloat16, trainer.Precision);
        (_, trainer) = Read("--mixed-precision", "--architecture", "c3d");
        var e = Assert.Throws<ArgumentException>(trainer.Validate);
        Assert.Equal("C3D trains in float32 only (Precision = BFloat16, mixed precision, is measured on InceptionI3d)", e.Message);
    }

    [Fact]
    public void AnUnknownArchitectureIsAUsageErrorListingTheWords()
    {
        var training = new TrainingArguments();
        var command = new RootCommand();
        training.AddTo(command);
        var error = Assert.Single(command.Parse(["--architecture", "vgg"]).Errors);
        Assert.Contains("'vgg' is not one of i3d, lstm, c3d, two-stream, 3d-fused, resnet18", error.Message);
    }

    /// <summary>A 2-D Two-Stream RGB tower trained by <c>i3d train --architecture two-stream</c>, its zip scored by
    /// <c>i3d predict</c> in another process (per-stream logits from the same pass), exported by <c>export-onnx</c>.</summary>
    [Fact]
    public void TrainsPredictsAndExportsAnotherArchitectureInFreshProcesses()
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-arch", Guid.NewGuid().ToString("N"));
        try
        {
            string data = Path.Combine(dir, "data"), zip = Path.Combine(dir, "two-stream.zip"), onnx = Path.Combine(dir, "two-stream.onnx");
            I3dProcess.Ok("synth", "--out", data, "--per-class", "2", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "48", "--classes", "4", "--seed", "5");
            var train = I3dProcess.Ok("train", "--data", Path.Combine(data, "train"), "--out", zip, "--architecture", "two-stream", "--streams", "rgb",
                "--crop-size", "32", "--clip-frames", "2", "--clips", "2", "--epochs", "1", "--batch-size", "4", "--validation-fraction", "0", "--threads", "1");
            Assert.Contains("TwoStream2d", train.Stderr);
            string video = Directory.GetFiles(Path.Combine(data, "test"), "*.avi", SearchOption.AllDirectories).Order().First();
            using var predicted = JsonDocument.Parse(I3dProcess.Ok("predict", video, "--model", zip, "--json").Stdout);
            var result = predicted.RootElement.GetProperty("results")[0];
            var logits = result.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            var rgb = result.GetProperty("streams").GetProperty("rgb").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.Equal(4, logits.Length);
            Assert.Equal(logits, rgb); // one stream: the fused logits are its own

            // The export names the architecture and scores (its numerics against TorchSharp: ArchitectureTrainerTests).
            I3dProcess.Ok("export-onnx", "--model", zip, "--out", onnx);
            using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx))
                Assert.Equal("TwoStream2d", session.ModelMetadata.CustomMetadataMap["backbone"]);
            using var fromOnnx = JsonDocument.Parse(I3dProcess.Ok("predict", video, "--model", onnx, "--json").Stdout);
            Assert.Equal(4, fromOnnx.RootElement.GetProperty("results")[0].GetProperty("logits").GetArrayLength());
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
