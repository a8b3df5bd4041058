using I3D.MLNet.Scoring;
using System.CommandLine;
using System.Text.Json;
using I3D.MLNet.IO;
using I3D.MLNet.Onnx;
using I3D.MLNet.Torch.Inference;
using TorchSharp;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d predict INPUT... [--rgb-weights F] [--flow-weights F | --model M] [--labels F] [--top K] [--crop-size S] [--device auto|cpu|cuda] [--precision float32|bfloat16] [--json]</c>.</summary>
internal static class PredictCommand
{
    /// <param name="videoSource">Provides clips for non-.npy inputs (video files); null for <see cref="VideoClipSource"/> (the paper's test protocol at --crop-size).</param>
    public static Command Create(IClipSource? videoSource = null)
    {
        var inputs = new Argument<string[]>("INPUT")
        {
            Description = "Clips: .npy in kinetics-i3d's layout, float32 (1, T, H, W, 3) RGB or (1, T, H, W, 2) flow in [-1, 1] "
                + "(X_rgb.npy with X_flow.npy beside it runs both streams)",
            Arity = ArgumentArity.OneOrMore,
        };
        var rgbWeights = new Option<string?>("--rgb-weights") { Description = "RGB stream weights: a PyTorch state_dict (zip or legacy), e.g. pytorch-i3d rgb_imagenet.pt, or a kinetics-i3d TensorFlow checkpoint (data/checkpoints/rgb_imagenet/model.ckpt, its .index or its folder)" };
        var flowWeights = new Option<string?>("--flow-weights") { Description = "Flow stream weights, e.g. pytorch-i3d flow_imagenet.pt" };
        var labels = new Option<string?>("--labels") { Description = "Class names, one per line in class order (default: Kinetics-400 for 400-class weights, Kinetics-600 for 600)" };
        var top = new Option<int>("--top") { Description = "How many classes to report", DefaultValueFactory = _ => 5 };
        var device = CliOptions.Device("auto (cuda when TorchSharp sees a GPU; with an .onnx --model, when ONNX Runtime's CUDA provider loads), cpu or cuda");
        var json = new Option<bool>("--json") { Description = "Write one JSON object to stdout" };
        var model = new Option<string?>("--model") { Description = "A model zip from i3d train (the whole pipeline), or an ONNX stream from i3d export-onnx (.onnx, run with ONNX Runtime), instead of --rgb-weights / --flow-weights" };
        var flowModel = new Option<string?>("--flow-model") { Description = "With an ONNX --model: a second ONNX stream (the flow one)" };
        var clips = new Option<int>("--clips") { Description = "Video input: K evenly spaced clips (of --clip-frames frames), predictions averaged (default: the whole video)", DefaultValueFactory = _ => 1 };
        var clipFrames = new Option<int?>("--clip-frames") { Description = "Video input with --clips K > 1: frames per clip (default: 64)" };
        var cropSize = new Option<int?>("--crop-size") { Description = "Video input: crop height and width, after resizing the shorter side to crop size x 256/224 (default: the size an .onnx --model takes, else 224)" };
        var precision = CliOptions.Precision();

        var command = new Command("predict", "Classify clips with the two-stream I3D (joint prediction = softmax of the summed RGB and flow logits)");
        command.Arguments.Add(inputs);
        foreach (var o in new Option[] { rgbWeights, flowWeights, labels, top, device, json, model, flowModel, clips, clipFrames, cropSize, precision }) command.Options.Add(o);

        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            var options = new Options(parse.GetValue(inputs)!, parse.GetValue(rgbWeights), parse.GetValue(flowWeights),
                parse.GetValue(labels), parse.GetValue(top), device.Read(parse), parse.GetValue(json),
                parse.GetValue(model), parse.GetValue(clips), parse.GetValue(flowModel), parse.GetValue(clipFrames), parse.GetValue(cropSize), precision.Read(parse));
            Run(options, videoSource, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
            return 0;
        }));
        return command;
    }

    private sealed record Options(string[] Inputs, string? RgbWeights, string? FlowWeights, string? Labels, int Top, string Device, bool Json, string? Model, int Clips, string? FlowModel,
        int? ClipFrames, int? CropSize, ScoringPrecision Precision)
    {
        /// <summary>Clips of the video inputs: the paper's test protocol at <paramref name="defaultCrop"/> unless --crop-size says otherwise.</summary>
        public IClipSource VideoClips(int defaultCrop)
        {
            if (Clips < 1) throw new ArgumentException("--clips must be at least 1");
            if (ClipFrames is < 1) throw new ArgumentException("--clip-frames must be at least 1");
            if (CropSize is < 1) throw new ArgumentException("--crop-size must be at least 1");
            return new VideoClipSource(Clips, ClipFrames ?? 64, null, CropSize ?? defaultCrop);
        }
    }

    private static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    private static void Run(Options o, IClipSource? videoSource, TextWriter output, TextWriter error)
    {
        if (o.Top < 1) throw new ArgumentException("--top must be at least 1");
        if (o.FlowModel is not null && (o.Model is null || !IsOnnx(o.Model))) throw new ArgumentException("--flow-model goes with an ONNX --model (.onnx)");
        if (o.Model is not null && IsOnnx(o.Model))
        {
            if (o.RgbWeights is not null || o.FlowWeights is not null) throw new ArgumentException("give --model or --rgb-weights / --flow-weights, not both");
            if (o.Precision != ScoringPrecision.Float32)
                throw new ArgumentException($"--precision {o.Precision.Name()}: {o.Model} runs with ONNX Runtime, which scores in float32; give the model zip or the weights (TorchSharp) for {o.Precision.Name()}");
            RunOnnx(o, videoSource, output, error);
            return;
        }
        if (o.Model is not null)
        {
            if (o.RgbWeights is not null || o.FlowWeights is not null) throw new ArgumentException("give --model or --rgb-weights / --flow-weights, not both");
            if (o.CropSize is not null || o.ClipFrames is not null) throw new ArgumentException("--crop-size and --clip-frames: a model zip samples its clips as it was trained");
            var (predictions, classNames) = ModelPrediction.Predict(o.Model, o.Inputs, o.Precision);
            Write(predictions, classNames, o, output);
            return;
        }
        if (o.RgbWeights is null && o.FlowWeights is null) throw new ArgumentException("give --model, --rgb-weights, --flow-weights or both weights");
        videoSource ??= o.VideoClips(224);
        var device = I3D.MLNet.Torch.Training.TorchDevices.Resolve(o.Device ?? "auto");
        using var predictor = TwoStreamPredictor.Load(o.RgbWeights, o.FlowWeights, device, o.Precision);
        string[]? names = LoadLabels(o.Labels, predictor.NumClasses);
        var npy = new NpyClipSource();

        var results = new List<Prediction>();
        foreach (string input in o.Inputs)
        {
            if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file", input);
            IClipSource source = NpyClipSource.Accepts(input) ? npy : videoSource;
            results.Add(predictor.Predict(input, source.Load(input, predictor.HasRgb, predictor.HasFlow)));
        }
        Write(results, names, o, output);
    }

    /// <summary>ONNX streams (from i3d export-onnx) run by ONNX Runtime: the same inputs and output as the TorchSharp path.</summary>
    private static void RunOnnx(Options o, IClipSource? videoSource, TextWriter output, TextWriter error)
    {
        var settings = new OnnxSessionSettings
        {
            ExecutionProvider = o.Device switch { "cpu" => OnnxExecutionProvider.Cpu, "cuda" => OnnxExecutionProvider.Cuda, _ => OnnxExecutionProvider.Auto },
        };
        // An explicit --device cuda that falls back to the CPU is said; the default (auto) falls back quietly.
        Action<string> log = m => { if (settings.ExecutionProvider == OnnxExecutionProvider.Cuda) error.WriteLine($"i3d predict: warning: {m}"); };
        using var first = I3DOnnxModel.Load(o.Model!, settings, log);
        using var second = o.FlowModel is null ? null : I3DOnnxModel.Load(o.FlowModel, settings, log);
        I3DOnnxModel.CheckCanCombine(second is null ? [first] : [first, second]);
        if (new[] { first, second }.FirstOrDefault(m => m?.Stream == VideoStream.RgbAndFlow) is { } joint)
            throw new ArgumentException($"{joint.Source} takes RGB and flow joined (a 3D-Fused export): predict with the model zip (--model model.zip), or score it with ScoreI3D's RgbAndFlowModelPath");
        var rgb = new[] { first, second }.FirstOrDefault(m => m?.Stream == VideoStream.Rgb);
        var flow = new[] { first, second }.FirstOrDefault(m => m?.Stream == VideoStream.Flow);
        string[] names = o.Labels is null ? [.. first.Classes] : LoadLabels(o.Labels, first.Classes.Count)!;
        // A model exported at another size (export-onnx --crop-size, or from a zip) declares it: its videos are cropped to it.
        videoSource ??= o.VideoClips(first.Height > 0 ? first.Height : 224);
        var npy = new NpyClipSource();
        var results = new List<Prediction>();
        foreach (string input in o.Inputs)
        {
            if (!File.Exists(input)) throw new FileNotFoundException($"{input}: no such file", input);
            IClipSource source = NpyClipSource.Accepts(input) ? npy : videoSource;
            results.Add(TwoStreamPredictor.Predict(input, source.Load(input, rgb is not null, flow is not null),
                rgb is null ? null : (rgb.Source, "an RGB model", clip => Logits(rgb, clip, input)),
                flow is null ? null : (flow.Source, "an optical flow model", clip => Logits(flow, clip, input))));
        }
        Write(results, names, o, output);
    }

    private static float[] Logits(I3DOnnxModel model, NpyArray clip, string input)
    {
        var (data, shape) = ClipTensor.ToChannelsFirst(clip, input);
        return model.Logits(data, shape, $"{input}: the clips");
    }

    private static void Write(List<Prediction> results, string[]? names, Options o, TextWriter output)
    {
        if (o.Json) WriteJson(results, names, o.Top, output);
        else
            foreach (var r in results)
            {
                output.WriteLine($"{r.Input} ({string.Join(" + ", r.Streams.Keys.Select(s => s.Name()))})");
                foreach (int i in r.Top(o.Top))
                    output.WriteLine($"  {r.Probabilities[i],8:0.0000}  {names?[i] ?? "class " + i} ({i})");
            }
    }

    /// <summary>The class names from <paramref name="path"/>, or by default the Kinetics names for 400 or 600 classes (none otherwise).</summary>
    internal static string[]? LoadLabels(string? path, int classes)
    {
        if (path is null) return I3D.MLNet.Torch.Weights.KineticsClasses.ForClassCount(classes)?.ToArray();
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such labels file", path);
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (lines.Length != classes) throw new ArgumentException($"{path}: {lines.Length} labels, but the weights have {classes} classes");
        return lines;
    }

    private static void WriteJson(List<Prediction> results, string[]? names, int top, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartArray("results");
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("input", r.Input);
                WriteFloats(w, "logits", r.Logits);
                w.WriteStartObject("streams");
                foreach (var (s, logits) in r.Streams) WriteFloats(w, s.Name(), logits);
                w.WriteEndObject();
                w.WriteStartArray("top");
                foreach (int i in r.Top(top))
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", i);
                    if (names is null) w.WriteNull("label");
                    else w.WriteString("label", names[i]);
                    w.WriteNumber("probability", r.Probabilities[i]);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteFloats(Utf8JsonWriter w, string name, float[] values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
