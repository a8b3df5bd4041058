using I3D.MLNet.Clips;
using I3D.MLNet.IO;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// Video files as predict's clips: the paper's test protocol (shorter side resized to crop x 256/224, centre crop;
/// the whole video, or K evenly spaced clips of T frames) at any crop size, so that a model taking 112 x 112 gets 112 x 112.
/// </summary>
internal sealed class CroppedClipSource(int clipsPerVideo, int frames, int cropSize) : IClipSource
{
    public ClipInput Load(string path, bool wantRgb, bool wantFlow)
    {
        var ml = new MLContext(0);
        var data = ml.Data.LoadFromEnumerable(new[] { new VideoPath { Path = path } });
        var sampling = new ClipSamplerOptions
        {
            Mode = ClipSamplingMode.Test, CropSize = cropSize, Frames = frames, ClipsPerVideo = clipsPerVideo, WholeVideo = clipsPerVideo == 1,
        };
        var loader = new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = ClipsCommand.DefaultShorterSide(cropSize) } };
        IEstimator<ITransformer> pipeline = ml.Transforms.LoadVideo("Frames", nameof(VideoPath.Path), loader);
        if (wantRgb) pipeline = pipeline.Append(ml.Transforms.SampleClips("Rgb", "Frames", sampling));
        if (wantFlow) pipeline = pipeline.Append(ml.Transforms.ExtractOpticalFlow("FlowFrames", "Frames")).Append(ml.Transforms.SampleClips("Flow", "FlowFrames", sampling));
        var clips = pipeline.Fit(data).Transform(data);
        using var row = clips.GetRowCursor(clips.Schema);
        if (!row.MoveNext()) throw new InvalidDataException($"{path}: no clips");
        NpyArray? Clip(string column, int channels)
        {
            if (!(column == "Rgb" ? wantRgb : wantFlow)) return null;
            var buffer = default(VBuffer<float>);
            row.GetGetter<VBuffer<float>>(clips.Schema[column])(ref buffer);
            // K clips stay a batch of K (N, T, H, W, C); the whole video is one clip of all its frames.
            float[] channelsFirst = buffer.DenseValues().ToArray();
            int t = channelsFirst.Length / (clipsPerVideo * channels * cropSize * cropSize);
            return new NpyArray([clipsPerVideo, t, cropSize, cropSize, channels], ClipLayout.ToChannelsLast(channelsFirst, clipsPerVideo, channels, t, cropSize, cropSize));
        }
        return new ClipInput(Clip("Rgb", 3), Clip("Flow", 2));
    }

    private sealed class VideoPath
    {
        public string Path { get; set; } = "";
    }
}
