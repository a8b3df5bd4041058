using System.Diagnostics;
using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Flow;
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
/// SDCA must be above chance by a margin luck does not give (Fixed is reported).
/// </summary>
[Collection(SeededRunCollection.Name)]
public sealed class FeatureBenchmarkTests(ITestOutputHelper log)
{
    private const int ClipFrames = 16, CropSize = 56;

    /// <summary>Label key, decoded frames, Farneback optical flow (cached) and flow clips: the flow stream, whose
    /// evidence (the direction of motion) even a briefly trained network carries into its pooled features.</summary>
    private static IEstimator<ITransformer> FlowClips(MLContext ml, VideoDataset dataset, string flowCache, ClipSamplingMode mode)
        => ml.Transforms.Conversion.MapValueToKey("Label", keyData: dataset.KeyData(ml))
            .Append(ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = CropSize + CropSize / 7 } }))
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames", new FlowOptions { Algorithm = FlowAlgorithm.Farneback, CacheDirectory = flowCache }))
            .Append(ml.Transforms.SampleClips("FlowClip", "Flow", new ClipSamplerOptions { Mode = mode, Frames = ClipFrames, CropSize = CropSize, Seed = 1 }));

    [Fact]
    public void SdcaOnExtractedFeaturesAndTheFixedModeOfTheTrainerLearnTheSyntheticBenchmark()
    {
        string dir = TrainerTests.Temp("features-benchmark"), cache = Path.Combine(dir, "flow-cache");
        var total = Stopwatch.StartNew();
        SyntheticActions.Write(dir, new SyntheticActionsOptions
        {
            Families = SyntheticActionFamilies.Appearance | SyntheticActionFamilies.Direction, PerClass = 4, TestPerClass = 4, Frames = 20, Size = 64, Seed = 2,
        });
        var ml = new MLContext(1);
        var train = VideoDataset.FromFolder(Path.Combine(dir, "train"));
        var test = VideoDataset.FromFolder(Path.Combine(dir, "test"));
        double chance = 1.0 / train.Classes.Count;
        var options = new I3DTrainerOptions
        {
            RgbColumnName = null, FlowColumnName = "FlowClip", Epochs = 2, BatchSize = 4, ValidationFraction = 0, BatchNormMomentum = 0.1, BatchNormCalibrationClips = 28, Seed = 1,
        };

        // Pre-training: a short full training of the flow stream from scratch on the training split.
        var watch = Stopwatch.StartNew();
        using var pretrained = FlowClips(ml, train, cache, ClipSamplingMode.Auto).Append(ml.MulticlassClassification.Trainers.I3D(options)).Fit(train.ToDataView(ml));
        var source = pretrained.LastTransformer;
        double pretrainAccuracy = ml.MulticlassClassification.Evaluate(pretrained.Transform(test.ToDataView(ml))).MicroAccuracy;
        log.WriteLine($"pre-training (full, {options.Epochs} epochs, flow cached): test accuracy {pretrainAccuracy:P1}, {watch.Elapsed.TotalSeconds:0} s");
        string weights = Path.Combine(dir, "flow.pt");
        source.SaveStreamWeights(VideoStream.Flow, weights);

        // (a) The trainer's Fixed mode on the pre-trained network: a new logits layer, the rest frozen.
        watch.Restart();
        var fixedOptions = options with { Initialization = I3DInitialization.Checkpoint, FlowWeights = weights, FixedFeatures = true, Epochs = 10, LearningRate = 0.1 };
        using var fixedModel = FlowClips(ml, train, cache, ClipSamplingMode.Auto).Append(ml.MulticlassClassification.Trainers.I3D(fixedOptions)).Fit(train.ToDataView(ml));
        double fixedAccuracy = ml.MulticlassClassification.Evaluate(fixedModel.Transform(test.ToDataView(ml))).MicroAccuracy;
        double fixedSeconds = watch.Elapsed.TotalSeconds;
        log.WriteLine($"(a) I3D trainer, Fixed mode ({fixedOptions.Epochs} epochs, lr {fixedOptions.LearningRate}): test accuracy {fixedAccuracy:P1}, {fixedSeconds:0} s");

        // (b) ExtractI3DFeatures (the pre-trained model's flow stream, the centred clip) + SdcaMaximumEntropy.
        watch.Restart();
        var pipeline = FlowClips(ml, train, cache, ClipSamplingMode.Test)
            .Append(ml.Transforms.ExtractI3DFeatures(new I3DFeatureExtractorOptions { Model = source, InputColumnName = "FlowClip" }))
            .AppendCacheCheckpoint(ml)
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Features"));
        using var featureModel = pipeline.Fit(train.ToDataView(ml));
        double sdcaAccuracy = ml.MulticlassClassification.Evaluate(featureModel.Transform(test.ToDataView(ml))).MicroAccuracy;
        double sdcaSeconds = watch.Elapsed.TotalSeconds;
        log.WriteLine($"(b) ExtractI3DFeatures + SdcaMaximumEntropy: test accuracy {sdcaAccuracy:P1}, {sdcaSeconds:0} s (features of {train.Videos.Count} + {test.Videos.Count} videos included)");
        log.WriteLine($"{train.Classes.Count} classes (chance {chance:P1}), {train.Videos.Count} training and {test.Videos.Count} test videos, flow clips {ClipFrames} x {CropSize} x {CropSize}; {total.Elapsed.TotalSeconds:0} s in all");

        // SDCA above chance by a margin: 28 test videos, 7 classes: 10 or more right by luck has p = 0.004 (binomial; 4
        // expected). Measured 12 in every run. Fixed mode is printed, not asserted: on this short pre-training it got
        // 8-9 of 28 (its pre-training 4-8 of 28, not the same from run to run), a margin luck can give (docs/features.md).
        Assert.True(sdcaAccuracy * test.Videos.Count >= 10 - 0.01, $"SDCA on I3D features: {sdcaAccuracy:P1} (chance {chance:P1})");
        Assert.True(double.IsFinite(fixedAccuracy));
    }
}
