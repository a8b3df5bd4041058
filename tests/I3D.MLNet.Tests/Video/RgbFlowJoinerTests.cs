using I3D.MLNet.Clips;
using I3D.MLNet.Tests.Flow;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Tests.Video;

/// <summary>JoinRgbAndFlow (the 3D-Fused network's input): exact values, aligned clips, zips, clear errors.</summary>
public sealed class RgbFlowJoinerTests
{
    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    [Fact]
    public void JoinedFramesAreRgbInMinusOneToOneThenFlowAndSampleAsOne()
    {
        var rgb = Clips.ClipSamplerTests.Synthetic(frames: 6, height: 8, width: 10);
        var flow = Clips.ClipSamplerTests.Synthetic(frames: 6, height: 8, width: 10, FrameElementKind.Flow);
        var joined = new VideoFrames();
        RgbFlowJoiningTransformer.Join(rgb, flow, joined);
        Assert.Equal((FrameElementKind.RgbAndFlow, 5, 6, 8, 10), (joined.Kind, joined.Channels, joined.FrameCount, joined.Height, joined.Width));
        for (int p = 0; p < 6 * 8 * 10; p++)
        {
            for (int c = 0; c < 3; c++) Assert.Equal(rgb.Bytes[p * 3 + c] / 127.5f - 1f, joined.Floats[p * 5 + c], 1e-6f);
            for (int c = 0; c < 2; c++) Assert.Equal(flow.Floats[p * 2 + c], joined.Floats[p * 5 + 3 + c]);
        }

        // A flipped training clip of the joined video is the flipped RGB clip and the flipped flow clip (x negated) stacked.
        var options = new ClipSamplerOptions { Mode = ClipSamplingMode.Train, Frames = 4, CropSize = 8, FlipProbability = 1, Seed = 2 };
        VBuffer<float> a = default, b = default, c2 = default;
        var id = new DataViewRowId(3, 0);
        ClipSampling.Sample(options, joined, id, training: true, epoch: 0, ref a);
        ClipSampling.Sample(options, rgb, id, training: true, epoch: 0, ref b);
        ClipSampling.Sample(options, flow, id, training: true, epoch: 0, ref c2);
        Assert.Equal([.. b.DenseValues(), .. c2.DenseValues()], a.DenseValues().ToArray());
    }

    [Fact]
    public void APipelineJoinsRoundTripsThroughAZipAndRefusesMismatchedVideos()
    {
        string dir = TestVideos.TempDir("rgb-flow-join");
        string video = FlowTestData.WriteSlidingTexture(Path.Combine(dir, "v.avi"), 8, 48, 40, 2, seed: 3);
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = video } });
        var pipeline = ml.Transforms.LoadVideo("Frames", nameof(PathRow.Path), new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = null } })
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames"))
            .Append(ml.Transforms.JoinRgbAndFlow("Joint", "Frames", "Flow"))
            .Append(ml.Transforms.SampleClips("Clip", "Joint", new ClipSamplerOptions { Frames = 4, CropSize = 32 }));
        var model = pipeline.Fit(data);
        var clip = model.Transform(data).GetColumn<float[]>("Clip").Single();
        Assert.Equal(5 * 4 * 32 * 32, clip.Length);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 1, 5, 4, 32, 32), model.Transform(data).Schema["Clip"].Type);

        string zip = Path.Combine(dir, "joined.zip");
        ml.Model.Save(model, data.Schema, zip);
        var again = new MLContext(2).Model.Load(zip, out _).Transform(data).GetColumn<float[]>("Clip").Single();
        Assert.Equal(clip, again);

        // Flow of other frames cannot be joined; a flow column in the RGB place is named.
        var other = new VideoFrames(FrameElementKind.Flow, 3, 40, 48);
        var frames = new VideoFrames(FrameElementKind.Rgb24, 4, 40, 48) { Source = "v.avi" };
        Assert.Contains("cannot be joined", Assert.Throws<InvalidDataException>(() => RgbFlowJoiningTransformer.Join(frames, other, new VideoFrames())).Message);
        var e = Assert.ThrowsAny<Exception>(() => ml.Transforms.LoadVideo("Frames", nameof(PathRow.Path)).Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames"))
            .Append(ml.Transforms.JoinRgbAndFlow("Joint", "Flow", "Flow")).Fit(data).Transform(data).Preview());
        Assert.Contains("column 'Flow' has type Video<Flow>; expected Video<Rgb24>", e.ToString());
    }
}
