using System.Diagnostics;
using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Features;
using I3D.MLNet.Torch.Tests.Training;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace I3D.MLNet.Torch.Tests.Features;

/// <summary>
/// The acceptance check of ExtractI3DFeatures (docs/features.md): on the synthetic benchmark (appearance and direction
/// families, 7 classes), an I3D RGB network is pre-trained the quick way, then the same train/test split is learned on
/// top of its frozen features twice: (a) the I3D trainer's paper-style Fixed mode (a new logits layer trained by SGD,
/// the rest frozen) and (b) ExtractI3DFeatures + ML.NET's SdcaMaximumEntropy. Both accuracies and times are printed;
/// both must be above chance by a margin luck does not give.
/// </summary>
public sealed class FeatureBenchmarkTests(ITestOutputHelper log)
{
    private const int ClipFrames = 16, CropSize = 56;

    [Fact]
    public void SdcaOnExtractedFeaturesAndTheFixedModeOfTheTrainerLearnTheSyntheticBenchmark()
    {
        string dir = TrainerTests.Temp("features-benchmark");
        var total = Stopwatch.StartNew();
        SyntheticActions.Write(dir, new SyntheticActionsOptions
        {
            Families = SyntheticActionFamilies.Appearance | SyntheticActionFamilies.Direction, PerClass = 8, TestPerClass = 4, Frames = 24, Size = 64, Seed = 2,
        });
        var ml = new MLContext(1);
        var train = VideoDataset.FromFolder(Path.Combine(dir, "train"));
        var test = VideoDataset.FromFolder(Path.Combine(dir, "test"));
        double chance = 1.0 / train.Classes.Count;
        var options = new I3DTrainerOptions { Epochs = 6, BatchSize = 8, ValidationFraction = 0, BatchNormMomentum = 0.1, BatchNormCalibrationClips = 64, Seed = 1 };

        // Pre-training: full training from scratch on the training split.
        var watch = Stopwatch.StartNew();
        var pretrained = (TransformerChain<I3DPredictionTransformer>)TrainerTests.Pipeline(ml, train, options, ClipFrames, CropSize).Fit(train.ToDataView(ml));
        var source = (I3DPredictionTransformer)pretrained.LastTransformer;
        double pretrainAccuracy = ml.MulticlassClassification.Evaluate(pretrained.Transform(test.ToDataView(ml))).MicroAccuracy;
        log.WriteLine($"pre-training (full, {options.Epochs} epochs): test accuracy {pretrainAccuracy:P1}, {watch.Elapsed.TotalSeconds:0} s");
        string weights = Path.Combine(dir, "rgb.pt");
        source.SaveStreamWeights(VideoStream.Rgb, weights);

        // (a) The trainer's Fixed mode on the pre-trained network.
        watch.Restart();
        var fixedOptions = options with { Initialization = I3DInitialization.Checkpoint, RgbWeights = weights, FixedFeatures = true, LearningRate = 0.1 };
        var fixedModel = TrainerTests.Pipeline(ml, train, fixedOptions, ClipFrames, CropSize).Fit(train.ToDataView(ml));
        double fixedAccuracy = ml.MulticlassClassification.Evaluate(fixedModel.Transform(test.ToDataView(ml))).MicroAccuracy;
        double fixedSeconds = watch.Elapsed.TotalSeconds;
        log.WriteLine($"(a) I3D trainer, Fixed mode ({options.Epochs} epochs, lr {fixedOptions.LearningRate}): test accuracy {fixedAccuracy:P1}, {fixedSeconds:0} s");

        // (b) ExtractI3DFeatures (the pre-trained model's RGB stream, centre clip) + SdcaMaximumEntropy.
        watch.Restart();
        var decode = new VideoDecodeOptions { ShorterSide = CropSize + CropSize / 7 };
        var sampling = new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = ClipFrames, CropSize = CropSize };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", keyData: train.KeyData(ml))
            .Append(ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = decode }))
            .Append(ml.Transforms.SampleClips("RgbClip", "Frames", sampling))
            .Append(ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { Model = source }))
            .AppendCacheCheckpoint(ml)
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Features"));
        using var featureModel = pipeline.Fit(train.ToDataView(ml));
        double sdcaAccuracy = ml.MulticlassClassification.Evaluate(featureModel.Transform(test.ToDataView(ml))).MicroAccuracy;
        double sdcaSeconds = watch.Elapsed.TotalSeconds;
        log.WriteLine($"(b) ExtractI3DFeatures + SdcaMaximumEntropy: test accuracy {sdcaAccuracy:P1}, {sdcaSeconds:0} s (features of {train.Videos.Count} + {test.Videos.Count} videos included)");
        log.WriteLine($"{train.Classes.Count} classes (chance {chance:P1}), {train.Videos.Count} training and {test.Videos.Count} test videos, {ClipFrames} x {CropSize} x {CropSize} clips; {total.Elapsed.TotalSeconds:0} s in all");

        // Above chance by a margin: with 28 test videos and 7 classes, 11 or more right by luck has p < 0.01 (binomial).
        int needed = 11;
        Assert.True(fixedAccuracy * test.Videos.Count >= needed, $"Fixed mode: {fixedAccuracy:P1} (chance {chance:P1})");
        Assert.True(sdcaAccuracy * test.Videos.Count >= needed, $"SDCA on I3D features: {sdcaAccuracy:P1} (chance {chance:P1})");
        pretrained.Dispose();
        ((IDisposable)fixedModel).Dispose();
    }
}
