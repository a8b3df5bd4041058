using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.Onnx;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet;

/// <summary>The catalog entry points: <c>mlContext.Transforms.LoadVideo(...)</c>, <c>.SampleClips(...)</c>, ...</summary>
public static class VideoCatalog
{
    /// <summary>
    /// Decodes the video file named in <paramref name="inputColumnName"/> (text) into frames
    /// (<see cref="VideoDataViewType"/>): 25 fps and shorter side 256 by default, as the paper.
    /// </summary>
    public static VideoLoadingEstimator LoadVideo(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null, VideoLoaderOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new VideoLoaderOptions(), (outputColumnName, inputColumnName ?? outputColumnName));

    /// <summary>
    /// Samples clips from a video column (RGB from <c>LoadVideo</c> or flow from <c>ExtractOpticalFlow</c>) into a
    /// float32 vector N x C x T x H x W in [-1, 1]; test protocol (centre crop) by default.
    /// </summary>
    public static ClipSamplingEstimator SampleClips(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null, ClipSamplerOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new ClipSamplerOptions(), (outputColumnName, inputColumnName ?? outputColumnName));

    /// <summary>
    /// Optical flow of an RGB video column (from <c>LoadVideo</c>) as a flow video column with the same frame count and
    /// size (frame t: flow from t to t+1; the last frame repeats the last pair's), grayscale TV-L1 by default, truncated
    /// to [-20, 20] pixels and scaled to [-1, 1]; feed it to <c>SampleClips</c> with the RGB column's options and seed to
    /// get aligned RGB and flow clips. Set <see cref="FlowOptions.CacheDirectory"/> to compute each video once.
    /// </summary>
    public static OpticalFlowEstimator ExtractOpticalFlow(this TransformsCatalog catalog, string outputColumnName, string? framesColumnName = null, FlowOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new FlowOptions(), (outputColumnName, framesColumnName ?? outputColumnName));

    /// <summary>
    /// The rows of <paramref name="data"/> whose video column has frames: drops the rows that
    /// <c>LoadVideo</c> with <see cref="InvalidVideoHandling.Skip"/> could not decode (each was counted in the log).
    /// </summary>
    public static IDataView SkipEmptyVideos(this DataOperationsCatalog catalog, IDataView data, string videoColumnName)
        => new EmptyVideoFilter(data, videoColumnName);

    /// <summary>
    /// Classifies clip columns (from <c>SampleClips</c>) with ONNX I3D streams exported by <c>i3d export-onnx</c>:
    /// per-stream logits averaged over each row's clips, summed over the streams, written as <c>Score</c> (softmax)
    /// and <c>PredictedLabel</c> (class names from the models' metadata). ONNX Runtime on the CPU by default; CUDA falls
    /// back to the CPU with a logged warning when it cannot load.
    /// </summary>
    public static I3DOnnxScoringEstimator ScoreI3D(this TransformsCatalog catalog, I3DOnnxScorerOptions options)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? throw new ArgumentNullException(nameof(options)));
}
