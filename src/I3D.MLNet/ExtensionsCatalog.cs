using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.Onnx;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML;

/// <summary>The catalog entry points: <c>mlContext.Transforms.LoadVideo(...)</c>, <c>.SampleClips(...)</c>, ...</summary>
public static class VideoCatalog
{
    /// <summary>
    /// Decodes the video file named in <paramref name="inputColumnName"/> (text) into frames
    /// (<see cref="VideoDataViewType"/>): 25 fps and shorter side 256 by default, as the paper.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The video column to write.</param>
    /// <param name="inputColumnName">The text column of file paths; null for <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Frame rate, shorter side, frame limit and what to do with a video that cannot be decoded; null for the paper's.</param>
    /// <example>
    /// <code>
    /// var videos = ml.Data.LoadFromEnumerable(new[] { new LabelledVideo { Path = "v_Basketball_g01_c01.avi" } });
    /// var frames = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = 128 } })
    ///     .Fit(videos).Transform(videos);
    /// </code>
    /// </example>
    public static VideoLoadingEstimator LoadVideo(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null, VideoLoaderOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new VideoLoaderOptions(), (outputColumnName, inputColumnName ?? outputColumnName));

    /// <summary>
    /// Samples clips from a video column (RGB from <c>LoadVideo</c> or flow from <c>ExtractOpticalFlow</c>) into a
    /// float32 vector N x C x T x H x W in [-1, 1]; test protocol (centre crop) by default.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The clip column to write (float32 vector N x C x T x H x W).</param>
    /// <param name="inputColumnName">The video column (RGB or flow); null for <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Mode (Test, Train or Auto), frames, crop, clips per video, flip probability and seed; null for the test protocol (one centred clip of 64 frames at 224).</param>
    /// <example>
    /// <code>
    /// var clips = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.SampleClips("RgbClip", "Frames", new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = 64, CropSize = 224 }));
    /// </code>
    /// </example>
    public static ClipSamplingEstimator SampleClips(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null, ClipSamplerOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new ClipSamplerOptions(), (outputColumnName, inputColumnName ?? outputColumnName));

    /// <summary>
    /// Optical flow of an RGB video column (from <c>LoadVideo</c>) as a flow video column with the same frame count and
    /// size (frame t: flow from t to t+1; the last frame repeats the last pair's), grayscale TV-L1 by default, truncated
    /// to [-20, 20] pixels and scaled to [-1, 1]; feed it to <c>SampleClips</c> with the RGB column's options and seed to
    /// get aligned RGB and flow clips. Set <see cref="FlowOptions.CacheDirectory"/> to compute each video once.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The flow video column to write.</param>
    /// <param name="framesColumnName">The RGB video column; null for <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Algorithm (TV-L1 by default), its parameters, the cache folder and threads; null for the defaults.</param>
    /// <example>
    /// <code>
    /// var flow = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames", new FlowOptions { CacheDirectory = "flow-cache" }))
    ///     .Append(ml.Transforms.SampleClips("FlowClip", "Flow"));
    /// </code>
    /// </example>
    public static OpticalFlowEstimator ExtractOpticalFlow(this TransformsCatalog catalog, string outputColumnName, string? framesColumnName = null, FlowOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new FlowOptions(), (outputColumnName, framesColumnName ?? outputColumnName));

    /// <summary>
    /// Joins an RGB video column and its optical flow (from <c>ExtractOpticalFlow</c>) into one video of five channels
    /// (R, G, B in [-1, 1], flow x, y): the input of the 3D-Fused Two-Stream network (section 2.3), which sees both
    /// streams at once; <c>SampleClips</c> of it gives RGB and flow of the same frames, crop and flip.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">The joined video column to write.</param>
    /// <param name="framesColumnName">The RGB video column (from <c>LoadVideo</c>).</param>
    /// <param name="flowColumnName">Its optical flow column (from <c>ExtractOpticalFlow</c>).</param>
    /// <example>
    /// <code>
    /// var joint = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames"))
    ///     .Append(ml.Transforms.JoinRgbAndFlow("RgbAndFlow", "Frames", "Flow"))
    ///     .Append(ml.Transforms.SampleClips("RgbAndFlowClip", "RgbAndFlow", new ClipSamplerOptions { Frames = 50 }));
    /// </code>
    /// </example>
    public static RgbFlowJoiningEstimator JoinRgbAndFlow(this TransformsCatalog catalog, string outputColumnName, string framesColumnName, string flowColumnName)
        => new(CatalogUtils.GetEnvironment(catalog), outputColumnName, framesColumnName, flowColumnName);

    /// <summary>
    /// The rows of <paramref name="data"/> whose video column has frames: drops the rows that
    /// <c>LoadVideo</c> with <see cref="InvalidVideoHandling.Skip"/> could not decode (each was counted in the log).
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="data">Rows with a video column.</param>
    /// <param name="videoColumnName">The video column (from <c>LoadVideo</c>).</param>
    /// <example>
    /// <code>
    /// var loader = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { OnInvalidVideo = InvalidVideoHandling.Skip });
    /// var decodable = ml.Data.SkipEmptyVideos(loader.Fit(videos).Transform(videos), "Frames");
    /// </code>
    /// </example>
    public static IDataView SkipEmptyVideos(this DataOperationsCatalog catalog, IDataView data, string videoColumnName)
        => new EmptyVideoFilter(data, videoColumnName);

    /// <summary>
    /// Classifies clip columns (from <c>SampleClips</c>) with ONNX I3D streams exported by <c>i3d export-onnx</c>:
    /// per-stream logits averaged over each row's clips, summed over the streams, written as <c>Score</c> (softmax)
    /// and <c>PredictedLabel</c> (class names from the models' metadata). ONNX Runtime on the CPU by default; CUDA falls
    /// back to the CPU with a logged warning when it cannot load.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="options">The ONNX models (RGB, flow or both; files or bytes), the clip and output column names and the session settings.</param>
    /// <example>
    /// <code>
    /// var scorer = ml.Transforms.LoadVideo("Frames", "Path")
    ///     .Append(ml.Transforms.SampleClips("RgbClip", "Frames", new ClipSamplerOptions { Frames = 64, CropSize = 224 }))
    ///     .Append(ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModelPath = "rgb.onnx" }));
    /// var scored = scorer.Fit(videos).Transform(videos);   // Score, PredictedLabel
    /// </code>
    /// </example>
    public static I3DOnnxScoringEstimator ScoreI3D(this TransformsCatalog catalog, I3DOnnxScorerOptions options)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? throw new ArgumentNullException(nameof(options)));
}
