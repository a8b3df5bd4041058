using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.Flow;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Torch.Training;

/// <summary>Which streams a classifier has.</summary>
public enum I3DStreams
{
    /// <summary>The RGB stream only.</summary>
    Rgb,
    /// <summary>The optical flow stream only.</summary>
    Flow,
    /// <summary>Both streams, scores fused (section 2.5).</summary>
    Both,

    /// <summary>RGB and flow joined into one clip for one network (the 3D-Fused network, section 2.3).</summary>
    RgbAndFlow,
}

/// <summary>How videos become clips for a classifier (the paper's values by default: 25 fps, 256 then 224, 64 frames).</summary>
public sealed record ClipPipelineOptions
{
    /// <summary>Which streams to train.</summary>
    public I3DStreams Streams { get; init; } = I3DStreams.Both;

    /// <summary>Frames per clip (section 2.5: 64).</summary>
    public int Frames { get; init; } = 64;

    /// <summary>Frames per flow clip where it differs from <see cref="Frames"/> (Table 1: the 2-D two-stream network takes
    /// 1 RGB frame and 10 flow frames); <c>null</c> for <see cref="Frames"/>.</summary>
    public int? FlowFrames { get; init; }

    /// <summary>One frame of every <c>FrameStride</c> (Table 1: the ConvNet+LSTM takes 1 of every 5). Default 1.</summary>
    public int FrameStride { get; init; } = 1;

    /// <summary>Crop size of the clips (section 2.5: 224).</summary>
    public int Size { get; init; } = 224;

    /// <summary>Shorter side before cropping; <c>null</c> for Size x 256 / 224 (the paper's 256 for 224).</summary>
    public int? ShorterSide { get; init; }

    /// <summary>Frame rate the videos are decoded at (section 2.5: 25).</summary>
    public double FramesPerSecond { get; init; } = 25;

    /// <summary>Clips per video at test time (evenly spaced, predictions averaged).</summary>
    public int ClipsPerVideo { get; init; } = 1;

    /// <summary>How the flow stream's optical flow is computed.</summary>
    public FlowOptions Flow { get; init; } = new();

    /// <summary>Seed of the training clips' random start, crop and flip.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Training: probability of the left-right flip (the paper's augmentation, 0.5). Classes that a mirror
    /// changes (moving left vs right, turning clockwise vs anticlockwise) need 0.</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>What to do with a video that cannot be decoded.</summary>
    public InvalidVideoHandling OnInvalidVideo { get; init; } = InvalidVideoHandling.Throw;

    /// <summary>Where videos are decoded: in this process, or in a worker process so that a malformed file that crashes
    /// or hangs FFmpeg is a skipped (or named) video instead of the end of training (<c>i3d train --skip-invalid</c>).</summary>
    public VideoDecodeIsolation DecodeIsolation { get; init; } = VideoDecodeIsolation.InProcess;

    /// <summary>The paper's clips for <paramref name="backbone"/> (Table 1: frames, stride, crop, test views, and the
    /// streams it is trained with), the other options at their defaults.</summary>
    /// <example><code>
    /// var c3d = VideoBackbones.Get("c3d");
    /// var pipeline = VideoClassification.Create(ml, ClipPipelineOptions.For(c3d), new I3DTrainerOptions { Backbone = c3d.Name });
    /// </code></example>
    public static ClipPipelineOptions For(VideoBackbone backbone)
    {
        if (backbone.Streams.SequenceEqual([VideoStream.RgbAndFlow]))
        {
            var both = backbone.Protocol(VideoStream.RgbAndFlow);
            return new ClipPipelineOptions { Streams = I3DStreams.RgbAndFlow, Frames = both.Frames, FrameStride = both.FrameStride, Size = both.CropSize, ClipsPerVideo = both.TestViews };
        }
        var rgb = backbone.Protocol(VideoStream.Rgb);
        bool hasRgb = backbone.Streams.Contains(VideoStream.Rgb), hasFlow = backbone.Streams.Contains(VideoStream.Flow);
        var flow = hasFlow ? backbone.Protocol(VideoStream.Flow) : rgb;
        return new ClipPipelineOptions
        {
            Streams = hasRgb && hasFlow ? I3DStreams.Both : hasRgb ? I3DStreams.Rgb : I3DStreams.Flow,
            Frames = hasRgb ? rgb.Frames : flow.Frames,
            FlowFrames = hasRgb && hasFlow && flow.Frames != rgb.Frames ? flow.Frames : null,
            FrameStride = rgb.FrameStride,
            Size = rgb.CropSize,
            ClipsPerVideo = rgb.TestViews,
        };
    }
}

/// <summary>
/// The whole video classifier as one ML.NET pipeline: LoadVideo -> (ExtractOpticalFlow) -> SampleClips per stream (Auto:
/// the training protocol while the trainer reads, the test protocol when scoring) -> I3D trainer. Input: a text column
/// <c>Path</c> (and, to train, a key column <c>Label</c>: see <see cref="MapLabels"/>). The fitted chain saves as one zip
/// and scores new videos from their paths alone.
/// </summary>
public static class VideoClassification
{
    /// <summary>The input column of video paths (text).</summary>
    public const string PathColumn = "Path";

    /// <summary>The input column of labels (a key: see <see cref="MapLabels"/>).</summary>
    public const string LabelColumn = "Label";

    /// <summary>The decoded RGB frames.</summary>
    public const string FramesColumn = "Frames";

    /// <summary>The optical flow frames.</summary>
    public const string FlowColumn = "Flow";

    /// <summary>The RGB clips (N x 3 x T x H x W).</summary>
    public const string RgbClipColumn = "RgbClip";

    /// <summary>The flow clips (N x 2 x T x H x W).</summary>
    public const string FlowClipColumn = "FlowClip";

    /// <summary>The joined RGB and flow video (for the 3D-Fused network).</summary>
    public const string RgbAndFlowColumn = "RgbAndFlow";

    /// <summary>The joined RGB and flow clips (N x 5 x T x H x W).</summary>
    public const string RgbAndFlowClipColumn = "RgbAndFlowClip";

    /// <summary>LoadVideo -> (ExtractOpticalFlow) -> SampleClips -> the I3D trainer, as one estimator.</summary>
    /// <param name="ml">The context.</param>
    /// <param name="clips">How videos become clips (streams, frames, crop, frame rate, flow).</param>
    /// <param name="trainer">How the classifier trains.</param>
    /// <example><code>
    /// var pipeline = VideoClassification.Create(ml, new ClipPipelineOptions { Frames = 16, Size = 112 }, new I3DTrainerOptions { Epochs = 3 });
    /// var model = pipeline.Fit(VideoClassification.MapLabels(ml, train, train.Classes));
    /// </code></example>
    public static IEstimator<ITransformer> Create(MLContext ml, ClipPipelineOptions clips, I3DTrainerOptions trainer)
    {
        var decode = new VideoDecodeOptions { FrameRate = clips.FramesPerSecond, ShorterSide = clips.ShorterSide ?? VideoDecodeOptions.ShorterSideForCrop(clips.Size) };
        var sampling = new ClipSamplerOptions
        {
            Mode = ClipSamplingMode.Auto, Frames = clips.Frames, FrameStride = clips.FrameStride, CropSize = clips.Size,
            ClipsPerVideo = clips.ClipsPerVideo, Seed = clips.Seed, FlipProbability = clips.FlipProbability,
        };
        bool joint = clips.Streams == I3DStreams.RgbAndFlow;
        bool rgb = clips.Streams is I3DStreams.Rgb or I3DStreams.Both, flow = clips.Streams != I3DStreams.Rgb;
        IEstimator<ITransformer> chain = ml.Transforms.LoadVideo(FramesColumn, PathColumn, new VideoLoaderOptions { Decode = decode, OnInvalidVideo = clips.OnInvalidVideo, Isolation = clips.DecodeIsolation });
        // Section 2.5: TV-L1 flow of the whole (resized) video, then the same window, crop and flip as the RGB clip.
        if (flow) chain = chain.Append(ml.Transforms.ExtractOpticalFlow(FlowColumn, FramesColumn, clips.Flow));
        if (joint)
        {
            // Section 2.3: the 3D-Fused network sees RGB and flow of the same frames at once.
            chain = chain.Append(ml.Transforms.JoinRgbAndFlow(RgbAndFlowColumn, FramesColumn, FlowColumn))
                .Append(ml.Transforms.SampleClips(RgbAndFlowClipColumn, RgbAndFlowColumn, sampling));
        }
        else if (flow) chain = chain.Append(ml.Transforms.SampleClips(FlowClipColumn, FlowColumn, sampling with { Frames = clips.FlowFrames ?? clips.Frames }));
        if (rgb) chain = chain.Append(ml.Transforms.SampleClips(RgbClipColumn, FramesColumn, sampling));
        return chain.Append(ml.MulticlassClassification.Trainers.I3D(trainer with
        {
            LabelColumnName = LabelColumn,
            RgbColumnName = rgb ? RgbClipColumn : null,
            FlowColumnName = flow && !joint ? FlowClipColumn : null,
            RgbAndFlowColumnName = joint ? RgbAndFlowClipColumn : null,
            Seed = trainer.Seed,
        }));
    }

    /// <summary>
    /// (Path, Label text) rows with Label mapped to a key in the order of <paramref name="classes"/>, so key i is class i.
    /// Labels not among the classes are an error that lists them (a model cannot be evaluated on classes it never saw).
    /// </summary>
    public static IDataView MapLabels(MLContext ml, VideoDataset dataset, IReadOnlyList<string> classes)
    {
        var unknown = dataset.Videos.Select(v => v.Label).Distinct().Where(l => !classes.Contains(l)).ToList();
        if (unknown.Count > 0)
            throw new InvalidDataException($"{unknown.Count} label(s) the model does not know: {string.Join(", ", unknown.Take(10))}; it knows {string.Join(", ", classes)}");
        var data = dataset.ToDataView(ml);
        return ml.Transforms.Conversion.MapValueToKey(LabelColumn, LabelColumn, keyData: VideoDataset.KeyDataOf(ml, classes)).Fit(data).Transform(data);
    }

    /// <summary>The classifier at the end of a fitted pipeline.</summary>
    public static I3DPredictionTransformer Classifier(ITransformer model)
        => (model is IEnumerable<ITransformer> chain ? chain.OfType<I3DPredictionTransformer>().LastOrDefault() : model as I3DPredictionTransformer)
            ?? throw new InvalidDataException("the model has no I3D classifier (not a model zip made by i3d train or the I3D trainer)");
}
