using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML;

/// <summary><c>mlContext.MulticlassClassification.Trainers.I3D(options)</c> and <c>mlContext.Transforms.ScoreI3D</c> on PyTorch weights.</summary>
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
}
