using System.CommandLine;
using I3D.MLNet.Clips;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d export-onnx (--rgb-weights F | --flow-weights F | --model model.zip) --out model.onnx [--labels F] [--crop-size S]</c>.</summary>
internal static class ExportOnnxCommand
{
    public static Command Create()
    {
        var rgbWeights = new Option<string?>("--rgb-weights") { Description = "RGB stream weights: a PyTorch state_dict of pytorch-i3d's InceptionI3d (e.g. rgb_imagenet.pt) or a kinetics-i3d TensorFlow checkpoint (.../model.ckpt)" };
        var flowWeights = new Option<string?>("--flow-weights") { Description = "Flow stream weights (e.g. flow_imagenet.pt)" };
        var model = new Option<string?>("--model") { Description = "A model zip from i3d train: each of its streams is exported" };
        var output = new Option<string>("--out") { Description = "The ONNX file to write; two streams write OUT with _rgb and _flow before the extension", Required = true };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line (default: Kinetics-400 for 400-class weights, Kinetics-600 for 600; a model zip has its own)" };
        var size = new Option<int?>("--crop-size") { Description = "Crop height and width the ONNX model takes (default: 224, or the model zip's crop size)" };
        var command = new Command("export-onnx", "Write I3D streams as ONNX models (opset 17; input 'clip' [batch, C, time, H, W] in [-1, 1], output 'logits' [batch, classes]; class names in the metadata)");
        foreach (var o in new Option[] { rgbWeights, flowWeights, model, output, labels }) command.Options.Add(o);
        command.AddRenamed(size, "--size");
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            foreach (var path in Export(parse.GetValue(rgbWeights), parse.GetValue(flowWeights), parse.GetValue(model), parse.GetValue(output)!, parse.GetValue(labels), parse.Value(size)))
                Console.WriteLine(path);
            return 0;
        }));
        return command;
    }

    /// <summary>Exports the streams; returns the files written.</summary>
    public static IReadOnlyList<string> Export(string? rgbWeights, string? flowWeights, string? modelZip, string output, string? labels, int? size)
    {
        if (size is < 1) throw new ArgumentException($"--crop-size must be positive, not {size}");
        List<(VideoStream Stream, byte[] Model)> streams;
        if (modelZip is not null)
        {
            if (rgbWeights is not null || flowWeights is not null) throw new ArgumentException("give --model or --rgb-weights / --flow-weights, not both");
            if (labels is not null) throw new ArgumentException("--labels: a model zip has its own class names");
            var ml = new MLContext(0);
            var loaded = ModelZipFile.Load(ml, modelZip, out _);
            var classifier = VideoClassification.Classifier(loaded);
            var sampler = Flatten(loaded).OfType<ClipSamplingTransformer>().FirstOrDefault()?.Options;
            int crop = size ?? sampler?.CropSize ?? 224;
            streams = [.. OnnxExporter.Export(classifier, crop, sampler?.Frames)];
        }
        else
        {
            if (rgbWeights is null && flowWeights is null) throw new ArgumentException("give --rgb-weights, --flow-weights or --model");
            streams = [];
            foreach (var (stream, path) in new[] { (VideoStream.Rgb, rgbWeights), (VideoStream.Flow, flowWeights) })
            {
                if (path is null) continue;
                using var net = TwoStreamPredictor.LoadStream(path, stream);
                net.eval();
                var names = PredictCommand.LoadLabels(labels, net.NumClasses);
                streams.Add((stream, OnnxExporter.Export(net, new OnnxExportOptions { Classes = names, Size = size ?? 224 })));
            }
        }
        var written = new List<string>();
        foreach (var (stream, bytes) in streams)
        {
            string path = streams.Count == 1 ? output : StreamPath(output, stream.Name());
            OnnxExporter.Save(bytes, path);
            written.Add(path);
        }
        return written;
    }

    /// <summary>The transformers of a (nested: Append of chains nests them) transformer chain, in order.</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [t];

    /// <summary>OUT with _rgb or _flow before the extension: model.onnx -> model_rgb.onnx.</summary>
    public static string StreamPath(string output, string stream)
    {
        string ext = Path.GetExtension(output);
        return Path.Combine(Path.GetDirectoryName(output) ?? "", $"{Path.GetFileNameWithoutExtension(output)}_{stream}{(ext.Length > 0 ? ext : ".onnx")}");
    }
}
