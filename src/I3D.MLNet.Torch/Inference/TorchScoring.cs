using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.Torch.Inference;

/// <summary>
/// Options of <c>mlContext.Transforms.ScoreI3D</c> on PyTorch weight files (TorchSharp): pytorch-i3d's state_dicts, such
/// as the published <c>rgb_imagenet.pt</c> and <c>flow_imagenet.pt</c>, scored without training or exporting first.
/// </summary>
public sealed record I3DTorchScorerOptions
{
    /// <summary>The RGB stream's InceptionI3d weights (3 input channels).</summary>
    public string? RgbWeightsPath { get; init; }

    /// <summary>The flow stream's InceptionI3d weights (2 input channels).</summary>
    public string? FlowWeightsPath { get; init; }

    /// <summary>Class names in class order; default: the Kinetics names for 400- and 600-class weights
    /// (<see cref="KineticsClasses"/>), else <c>class 0</c>, <c>class 1</c>, ...</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>RGB clips N x 3 x T x H x W from SampleClips.</summary>
    public string RgbColumnName { get; init; } = "RgbClip";

    /// <summary>Flow clips N x 2 x T x H x W from SampleClips.</summary>
    public string FlowColumnName { get; init; } = "FlowClip";

    /// <summary>The output column of class probabilities (softmax of the summed stream logits).</summary>
    public string ScoreColumnName { get; init; } = "Score";

    /// <summary>The output column of the most probable class (a key over the class names).</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";

    /// <summary><c>auto</c> (CUDA when TorchSharp sees one), <c>cpu</c> or <c>cuda</c>. Where the model runs, not saved:
    /// a loaded zip picks <c>auto</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>The arithmetic the networks score with: <see cref="ScoringPrecision.Float32"/> (the default) or
    /// <see cref="ScoringPrecision.BFloat16"/> (about twice as fast where the CPU has BF16 instructions; logits within
    /// about 1e-2). Not saved, like <see cref="Device"/>: a loaded zip scores in float32 until
    /// <see cref="I3DPredictionTransformer.UsePrecision"/> says otherwise.</summary>
    public ScoringPrecision Precision { get; init; } = ScoringPrecision.Float32;
}

/// <summary>
/// Estimator of <c>mlContext.Transforms.ScoreI3D(I3DTorchScorerOptions)</c>: the networks of the weight files as an
/// <see cref="I3DPredictionTransformer"/>, the transformer the I3D trainer makes (same output columns: <c>Score</c>,
/// <c>PredictedLabel</c> with the class names as key values; the weights travel inside the model zip). Nothing to learn.
/// </summary>
public sealed class I3DTorchScoringEstimator : TrivialEstimator<I3DPredictionTransformer>
{
    internal I3DTorchScoringEstimator(IHostEnvironment env, I3DTorchScorerOptions options)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(I3DTorchScoringEstimator)), TorchScoring.FromWeights(env, options))
    {
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        foreach (var column in Transformer.StreamColumns.Values) ClipColumns.CheckSchemaShape(Host, inputSchema, column);
        var info = Transformer.Info;
        return ClassScores.OutputShape(inputSchema, info.ScoreColumnName, info.PredictedLabelColumnName, NumberDataViewType.UInt32, Transformer.Streams);
    }
}

/// <summary>Builds the scorer of <see cref="I3DTorchScorerOptions"/>.</summary>
internal static class TorchScoring
{
    public static I3DPredictionTransformer FromWeights(IHostEnvironment env, I3DTorchScorerOptions options)
    {
        var sources = new[] { (VideoStream.Rgb, options.RgbWeightsPath, options.RgbColumnName), (VideoStream.Flow, options.FlowWeightsPath, options.FlowColumnName) }
            .Where(s => s.Item2 is not null).ToList();
        if (sources.Count == 0) throw new ArgumentException("ScoreI3D needs RGB weights, flow weights or both (I3DTorchScorerOptions.RgbWeightsPath / FlowWeightsPath)");
        var device = TorchDevices.Resolve(options.Device);
        var streams = new List<StreamNetwork>();
        try
        {
            foreach (var (stream, path, column) in sources)
            {
                var net = ModuleWeights.LoadInceptionI3d(path!);
                streams.Add(new StreamNetwork(stream, column, Backbones.VideoBackbones.InceptionI3d, net.NumClasses, net.InChannels, net));
                if (net.InChannels != stream.Channels())
                    throw new WeightFileException($"{path}: given as the {stream.Name()} weights, but it is a {net.InChannels}-channel network (the {stream.Name()} stream takes {stream.Channels()})");
            }
            if (streams.Select(s => s.NumClasses).Distinct().Count() > 1)
                throw new ArgumentException($"the streams have different classes: {string.Join(", ", sources.Zip(streams, (s, n) => $"{s.Item2} {n.NumClasses}"))}");
            int classes = streams[0].NumClasses;
            var names = options.ClassNames?.ToArray() ?? KineticsClasses.ForClassCount(classes)?.ToArray() ?? [.. Enumerable.Range(0, classes).Select(i => $"class {i}")];
            if (names.Length != classes) throw new ArgumentException($"{names.Length} class names for weights of {classes} classes");
            var info = I3DPredictionTransformer.Description.Of(options.ScoreColumnName, options.PredictedLabelColumnName, names, streams);
            var transformer = new I3DPredictionTransformer(env, info, [.. streams]);
            transformer.MoveTo(device);
            return transformer.UsePrecision(options.Precision);
        }
        catch
        {
            foreach (var s in streams) s.Dispose();
            throw;
        }
    }
}
