using I3D.MLNet.Torch.Features;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML;

/// <summary><c>mlContext.MulticlassClassification.Trainers.I3D(options)</c>, <c>mlContext.Transforms.ScoreI3D</c> on PyTorch weights and
/// <c>mlContext.Transforms.ExtractI3DFeatures</c>.</summary>
public static class TorchCatalog
{
    /// <summary>
    /// Trains or fine-tunes two-stream I3D on clip columns (from SampleClips) and a key label (section 3: SGD with
    /// momentum, the learning rate divided by 10 when the validation loss stops improving; each stream trained on its
    /// own, scores summed at test). Checkpoints and resumes when <see cref="I3DTrainerOptions.CheckpointDirectory"/> is set.
    /// </summary>
    /// <param name="catalog">The trainers catalog (<c>mlContext.MulticlassClassification.Trainers</c>).</param>
    /// <param name="options">The clip and label columns, network, initialisation, schedule and checkpoints; null for the defaults
    /// (both streams from scratch, 10 epochs).</param>
    /// <example>
    /// <code>
    /// var train = new ClipSamplerOptions { Mode = ClipSamplingMode.Auto, Frames = 16, CropSize = 112 };
    /// var pipeline = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.SampleClips("RgbClip", "Frames", train))
    ///     .Append(ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions { RgbColumnName = "RgbClip", Epochs = 5 }));
    /// var model = pipeline.Fit(VideoClassification.MapLabels(ml, videos, videos.Classes));
    /// </code>
    /// </example>
    public static I3DTrainer I3D(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, I3DTrainerOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new I3DTrainerOptions());

    /// <summary>
    /// Scores clip columns (from SampleClips) with pytorch-i3d InceptionI3d weight files in TorchSharp: each stream's
    /// logits averaged over the row's clips, the streams' logits summed (the paper's two-stream fusion), then
    /// <c>Score</c> (softmax) and <c>PredictedLabel</c> (a key whose values are the class names), like the I3D trainer's
    /// model, so <c>MulticlassClassification.Evaluate</c> works and the pipeline saves as one zip (weights inside); each
    /// stream's logits before fusion are the columns <c>RgbLogits</c> and <c>FlowLogits</c>.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="options">The weight files (RGB, flow or both), class names (Kinetics-400 by default for 400
    /// classes), the clip and output column names, and the device.</param>
    /// <example>
    /// <code>
    /// var test = new ClipSamplerOptions { Mode = ClipSamplingMode.Test };
    /// var pipeline = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames"))
    ///     .Append(ml.Transforms.SampleClips("RgbClip", "Frames", test))
    ///     .Append(ml.Transforms.SampleClips("FlowClip", "Flow", test))
    ///     .Append(ml.Transforms.ScoreI3D(new I3DTorchScorerOptions { RgbWeightsPath = "rgb_imagenet.pt", FlowWeightsPath = "flow_imagenet.pt" }));
    /// var scored = pipeline.Fit(videos).Transform(videos);   // Score: 400 Kinetics probabilities; PredictedLabel: the class name
    /// </code>
    /// </example>
    public static I3DTorchScoringEstimator ScoreI3D(this TransformsCatalog catalog, I3DTorchScorerOptions options)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? throw new ArgumentNullException(nameof(options)));

    /// <summary>
    /// I3D features of a clip column (from SampleClips) as a fixed-size float vector column that any ML.NET trainer takes,
    /// as <c>DnnFeaturizeImage</c> does for images: one InceptionI3d stream (of a weight file, or of a fitted I3D
    /// classifier) at an endpoint (by default the 1024-d pooled features before the logits), averaged over time and
    /// space, and over the row's clips (or per clip). Nothing to learn; the weights travel inside the model zip.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="options">The network (<see cref="I3DFeatureExtractorOptions.WeightsPath"/> or
    /// <see cref="I3DFeatureExtractorOptions.Model"/> and its <see cref="I3DFeatureExtractorOptions.Stream"/>), the
    /// endpoint, per clip or averaged, the clip and output columns, and the device.</param>
    /// <example>
    /// <code>
    /// var clips = new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = 64, CropSize = 224 };
    /// var pipeline = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.SampleClips("RgbClip", "Frames", clips))
    ///     .Append(ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { WeightsPath = "rgb_imagenet.pt" }))  // "Features": 1024 floats
    ///     .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
    ///     .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Features"));
    /// var model = pipeline.Fit(videos);
    /// </code>
    /// </example>
    public static I3DFeatureEstimator ExtractI3DFeatures(this TransformsCatalog catalog, I3DFeatureExtractorOptions options)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? throw new ArgumentNullException(nameof(options)));

    /// <summary>
    /// The pooled 1024-d I3D features of <paramref name="inputColumnName"/>'s clips, averaged over the row's clips, with
    /// the InceptionI3d weights of <paramref name="weightsPath"/> (<see cref="ExtractI3DFeatures(TransformsCatalog, I3DFeatureExtractorOptions)"/>
    /// with its defaults).
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The feature column (1024 floats).</param>
    /// <param name="inputColumnName">The clip column (N x C x T x H x W from SampleClips).</param>
    /// <param name="weightsPath">pytorch-i3d InceptionI3d weights (RGB or flow: the file's input channels decide).</param>
    /// <example>
    /// <code>
    /// var features = ml.Transforms.ExtractI3DFeatures("Features", "RgbClip", "rgb_imagenet.pt");
    /// </code>
    /// </example>
    public static I3DFeatureEstimator ExtractI3DFeatures(this TransformsCatalog catalog, string outputColumnName, string inputColumnName, string weightsPath)
        => catalog.ExtractI3DFeatures(new I3DFeatureExtractorOptions { OutputColumnName = outputColumnName, InputColumnName = inputColumnName, WeightsPath = weightsPath });
}
