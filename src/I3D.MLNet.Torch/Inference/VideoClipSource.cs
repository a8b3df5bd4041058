using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Torch.Inference;

/// <summary>
/// Clips of a video file by the paper's test protocol (section 3): 25 fps, shorter side 256, centre 224 crop (or any
/// crop, the shorter side scaled alike: 128 for 112), the whole video (or K evenly spaced clips of <see cref="Frames"/>
/// frames when <see cref="ClipsPerVideo"/> > 1, averaged by the caller), through LoadVideo -> (ExtractOpticalFlow) ->
/// SampleClips, in kinetics-i3d's layout.
/// </summary>
internal sealed class VideoClipSource(int clipsPerVideo = 1, int frames = 64, FlowOptions? flow = null, int cropSize = 224) : IClipSource
{
    public int ClipsPerVideo { get; } = clipsPerVideo;

    public int Frames { get; } = frames;

    public int CropSize { get; } = cropSize;

    public ClipInput Load(string path, bool wantRgb, bool wantFlow)
    {
        var ml = new MLContext(0);
        var data = ml.Data.LoadFromEnumerable(new List<PathRow> { new() { Path = path } });
        var sampling = ClipsPerVideo > 1
            ? new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = Frames, ClipsPerVideo = ClipsPerVideo, CropSize = CropSize }
            : new ClipSamplerOptions { Mode = ClipSamplingMode.Test, WholeVideo = true, CropSize = CropSize };
        var loader = new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = VideoDecodeOptions.ShorterSideForCrop(CropSize) } };
        IEstimator<ITransformer> chain = ml.Transforms.LoadVideo("Frames", "Path", loader);
        if (wantRgb) chain = chain.Append(ml.Transforms.SampleClips("Rgb", "Frames", sampling));
        if (wantFlow) chain = chain.Append(ml.Transforms.ExtractOpticalFlow("FlowFrames", "Frames", flow)).Append(ml.Transforms.SampleClips("Flow", "FlowFrames", sampling));
        var output = chain.Fit(data).Transform(data);
        using var cursor = output.GetRowCursor(output.Schema);
        if (!cursor.MoveNext()) throw new InvalidDataException($"{path}: no clips");
        return new ClipInput(wantRgb ? Read(cursor, "Rgb", 3, CropSize) : null, wantFlow ? Read(cursor, "Flow", 2, CropSize) : null);
    }

    private static NpyArray Read(DataViewRowCursor cursor, string column, int channels, int size)
    {
        var values = default(VBuffer<float>);
        cursor.GetGetter<VBuffer<float>>(cursor.Schema[column])(ref values);
        var data = values.DenseValues().ToArray();
        int clips = data.Length / (channels * size * size);
        // K clips of T frames become one (K x T)-frame sequence would mix clips: keep them apart as a batch of K.
        int k = cursor.Schema[column].Type is VectorDataViewType { IsKnownSize: true } v ? v.Dimensions[0] : 1;
        int t = clips / k;
        return new NpyArray([k, t, size, size, channels], ClipLayout.ToChannelsLast(data, k, channels, t, size, size));
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
