using I3D.MLNet.Clips;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Tests.Clips;

public class ClipSamplerTests
{
    /// <summary>A synthetic RGB video whose byte at (t, y, x, c) is a known function, so every sampled value can be checked.</summary>
    internal static VideoFrames Synthetic(int frames, int height, int width, FrameElementKind kind = FrameElementKind.Rgb24)
    {
        var video = new VideoFrames(kind, frames, height, width) { Source = "synthetic" };
        for (int t = 0; t < frames; t++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < video.Channels; c++)
                    {
                        int i = ((t * height + y) * width + x) * video.Channels + c;
                        if (kind == FrameElementKind.Rgb24) video.Bytes[i] = Value(t, y, x, c);
                        else video.Floats[i] = (Value(t, y, x, c) - 127.5f) / 127.5f;
                    }
        return video;
    }

    internal static byte Value(int t, int y, int x, int c) => (byte)((t * 31 + y * 7 + x * 3 + c * 101) % 256);

    private static ClipSamplingTransformer Sampler(ClipSamplerOptions options)
        => new ClipSamplingEstimator(new MLContext(0), options, ("Clip", "Frames")).Fit(EmptyVideos());

    private static IDataView EmptyVideos()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Frames", VideoDataViewType.Rgb);
        return new EmptyView(builder.ToSchema());
    }

    private static float[] Sample(ClipSamplingTransformer sampler, VideoFrames video, long row)
    {
        var output = default(VBuffer<float>);
        sampler.Sample(video, new DataViewRowId((ulong)row, 0), ref output);
        return output.DenseValues().ToArray();
    }

    /// <summary>Reads the value at (clip k, channel c, time t, y, x) of an N C T H W buffer.</summary>
    private static float At(float[] clip, int channels, int frames, int size, int k, int c, int t, int y, int x)
        => clip[(((k * channels + c) * frames + t) * size + y) * size + x];

    [Fact]
    public void TestModeTakesTheCentredClipAndCentreCropInNcthwLayout()
    {
        var video = Synthetic(frames: 20, height: 12, width: 16);
        var clip = Sample(Sampler(new ClipSamplerOptions { Frames = 8, CropSize = 8 }), video, 0);
        Assert.Equal(3 * 8 * 8 * 8, clip.Length);
        int start = (20 - 8) / 2, top = (12 - 8) / 2, left = (16 - 8) / 2;
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < 8; t++)
                for (int y = 0; y < 8; y++)
                    for (int x = 0; x < 8; x++)
                        Assert.Equal(Value(start + t, top + y, left + x, c) / 127.5f - 1f, At(clip, 3, 8, 8, 0, c, t, y, x), 1e-5f);
        Assert.InRange(clip.Min(), -1f, 1f);
        Assert.InRange(clip.Max(), -1f, 1.000001f);
    }

    [Fact]
    public void TestModeKClipsAreEvenlySpacedFromFirstToLastFrame()
    {
        var video = Synthetic(frames: 30, height: 8, width: 8);
        var clip = Sample(Sampler(new ClipSamplerOptions { Frames = 10, CropSize = 8, ClipsPerVideo = 3 }), video, 0);
        Assert.Equal(3 * 3 * 10 * 64, clip.Length);
        int[] starts = [0, 10, 20];
        for (int k = 0; k < 3; k++)
            Assert.Equal(Value(starts[k], 0, 0, 0) / 127.5f - 1f, At(clip, 3, 10, 8, k, 0, 0, 0, 0), 1e-5f);
    }

    [Fact]
    public void AFrameStrideTakesOneFrameOfEveryKAndSpacesTestViewsOverWhatTheyCover()
    {
        // Table 1's ConvNet+LSTM protocol in small: 1 of every 5 frames.
        var video = Synthetic(frames: 60, height: 8, width: 8);
        var clip = Sample(Sampler(new ClipSamplerOptions { Frames = 5, FrameStride = 5, CropSize = 8, ClipsPerVideo = 3 }), video, 0);
        // A clip covers (5 - 1) x 5 + 1 = 21 frames; three views start at 0, (60 - 21) / 2 rounded = 20 and 39.
        int[] starts = [0, 20, 39];
        for (int k = 0; k < 3; k++)
            for (int t = 0; t < 5; t++)
                Assert.Equal(Value(starts[k] + 5 * t, 0, 0, 0) / 127.5f - 1f, At(clip, 3, 5, 8, k, 0, t, 0, 0), 1e-5f);
        // Training: random starts, still 5 apart; a video shorter than the span loops.
        var train = Sample(Sampler(new ClipSamplerOptions { Mode = ClipSamplingMode.Train, Frames = 4, FrameStride = 3, CropSize = 8, FlipProbability = 0, Seed = 3 }), Synthetic(frames: 7, height: 8, width: 8), 1);
        for (int t = 0; t < 4; t++) Assert.Equal(Value(3 * t % 7, 0, 0, 0) / 127.5f - 1f, At(train, 3, 4, 8, 0, 0, t, 0, 0), 1e-5f);
        // The whole video at a stride: every third frame.
        var whole = Sample(Sampler(new ClipSamplerOptions { WholeVideo = true, FrameStride = 3, CropSize = 8 }), Synthetic(frames: 7, height: 8, width: 8), 0);
        Assert.Equal(3 * 3 * 64, whole.Length);
        Assert.Equal(Value(6, 0, 0, 0) / 127.5f - 1f, At(whole, 3, 3, 8, 0, 0, 2, 0, 0), 1e-5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler(new ClipSamplerOptions { FrameStride = 0 }));
    }

    [Fact]
    public void ShortVideosAreLooped()
    {
        var video = Synthetic(frames: 5, height: 8, width: 8);
        foreach (var mode in new[] { ClipSamplingMode.Test, ClipSamplingMode.Train })
        {
            var clip = Sample(Sampler(new ClipSamplerOptions { Mode = mode, Frames = 12, CropSize = 8, FlipProbability = 0 }), video, 0);
            for (int t = 0; t < 12; t++)
                Assert.Equal(Value(t % 5, 0, 0, 1) / 127.5f - 1f, At(clip, 3, 12, 8, 0, 1, t, 0, 0), 1e-5f);
        }
    }

    [Fact]
    public void WholeVideoKeepsEveryFrame()
    {
        var video = Synthetic(frames: 7, height: 8, width: 10);
        var sampler = Sampler(new ClipSamplerOptions { WholeVideo = true, CropSize = 8 });
        Assert.False(sampler.OutputType(FrameElementKind.Rgb24).IsKnownSize);
        var clip = Sample(sampler, video, 0);
        Assert.Equal(3 * 7 * 64, clip.Length);
        Assert.Equal(Value(6, 0, 1, 2) / 127.5f - 1f, At(clip, 3, 7, 8, 0, 2, 6, 0, 0), 1e-5f);
    }

    [Fact]
    public void TrainModeIsRandomButRepeatableAndFlipsWholeClips()
    {
        var video = Synthetic(frames: 40, height: 20, width: 24);
        var options = new ClipSamplerOptions { Mode = ClipSamplingMode.Train, Frames = 8, CropSize = 16, Seed = 7 };
        var a = Sampler(options);
        var b = Sampler(options);
        var firstA = Enumerable.Range(0, 6).Select(r => Sample(a, video, r)).ToList();
        var firstB = Enumerable.Range(0, 6).Select(r => Sample(b, video, r)).ToList();
        for (int r = 0; r < 6; r++) Assert.Equal(firstA[r], firstB[r]); // same seed, same clips

        Assert.Equal(firstA[0], Sample(a, video, 0)); // a pure function: reading a row again gives the same clip
        var nextEpoch = Sample(Sampler(options with { Epoch = 1 }), video, 0);
        var otherSeed = Sample(Sampler(options with { Seed = 8 }), video, 0);
        Assert.NotEqual(firstA[0], nextEpoch); // another epoch gets new choices
        Assert.NotEqual(firstA[0], otherSeed);

        // Every clip is an exact crop of consecutive frames, mirrored as a whole or not at all.
        int flips = 0;
        foreach (var clip in firstA)
        {
            bool? flipped = null;
            foreach (bool flip in new[] { false, true })
            {
                for (int start = 0; start <= 32 && flipped == null; start++)
                    for (int top = 0; top <= 4 && flipped == null; top++)
                        for (int left = 0; left <= 8 && flipped == null; left++)
                            if (Matches(clip, start, top, left, flip)) flipped = flip;
            }
            Assert.NotNull(flipped);
            if (flipped == true) flips++;
        }
        Assert.InRange(flips, 1, 5); // 6 clips with p = 0.5: both kinds occur (fixed seed)

        static bool Matches(float[] clip, int start, int top, int left, bool flip)
        {
            for (int c = 0; c < 3; c++)
                for (int t = 0; t < 8; t++)
                    for (int y = 0; y < 16; y += 5)
                        for (int x = 0; x < 16; x += 3)
                        {
                            int sx = flip ? left + 15 - x : left + x;
                            if (Math.Abs(At(clip, 3, 8, 16, 0, c, t, y, x) - (Value(start + t, top + y, sx, c) / 127.5f - 1f)) > 1e-5) return false;
                        }
            return true;
        }
    }

    [Fact]
    public void AutoModeIsTheTestProtocolAndItsColumnTellsTheTrainerHowToDrawTrainingClips()
    {
        var video = Synthetic(frames: 40, height: 20, width: 24);
        var options = new ClipSamplerOptions { Mode = ClipSamplingMode.Auto, Frames = 8, CropSize = 16, Seed = 2, ClipsPerVideo = 2 };
        var auto = Sampler(options);
        var test = Sampler(options with { Mode = ClipSamplingMode.Test });
        Assert.Equal(Sample(test, video, 3), Sample(auto, video, 3)); // read by anything: the test protocol

        // What the trainer does with the column's annotation: the training protocol at its epoch, from the frames.
        var ml = new MLContext(0);
        var schema = auto.GetOutputSchema(EmptyVideos().Schema);
        var annotation = ClipSamplingAnnotation.Of(schema["Clip"]);
        Assert.NotNull(annotation);
        Assert.Equal("Frames", annotation.Source);
        Assert.Equal(options, annotation.Options);
        float[] Train(int epoch)
        {
            var output = default(VBuffer<float>);
            ClipSampling.Sample(annotation.Options, video, new DataViewRowId(3, 0), training: true, epoch, ref output);
            return output.DenseValues().ToArray();
        }
        var epoch0 = Train(0);
        Assert.Equal(2 * 3 * 8 * 16 * 16, epoch0.Length); // K random training clips, same shape as the K test clips
        Assert.NotEqual(Sample(test, video, 3), epoch0);
        Assert.Equal(epoch0, Train(0)); // seeded by the epoch, not by how often the row was read: resumable
        Assert.NotEqual(epoch0, Train(1));
    }

    /// <summary>The same clip for the same (seed, row, epoch), whatever order the rows are read in.</summary>
    [Fact]
    public void TrainClipsDoNotDependOnTheReadingOrder()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"i3d-clip-order-{Guid.NewGuid():N}");
        try
        {
            I3D.MLNet.Datasets.SyntheticMotion.Write(dir, new I3D.MLNet.Datasets.SyntheticMotionOptions { PerClass = 2, TestPerClass = 1, Frames = 12, Size = 48, Seed = 1 });
            var ml = new MLContext(0);
            var data = I3D.MLNet.Datasets.VideoDataset.FromFolder(Path.Combine(dir, "train")).ToDataView(ml);
            Assert.True(data.CanShuffle);
            var clips = ml.Transforms.LoadVideo("Frames", "Path")
                .Append(ml.Transforms.SampleClips("Clip", "Frames", new ClipSamplerOptions { Mode = ClipSamplingMode.Train, Frames = 6, CropSize = 32, Seed = 4, Epoch = 2 }))
                .Fit(data).Transform(data);
            Dictionary<ulong, float[]> Read(Random? order)
            {
                var result = new Dictionary<ulong, float[]>();
                using var cursor = clips.GetRowCursor([clips.Schema["Clip"]], order);
                var getId = cursor.GetIdGetter();
                var getClip = cursor.GetGetter<VBuffer<float>>(clips.Schema["Clip"]);
                DataViewRowId id = default;
                VBuffer<float> clip = default;
                while (cursor.MoveNext())
                {
                    getId(ref id);
                    getClip(ref clip);
                    result[id.Low] = clip.DenseValues().ToArray();
                }
                return result;
            }
            var sequential = Read(null);
            var shuffled = Read(new Random(5));
            var again = Read(new Random(6));
            Assert.Equal(sequential.Count, shuffled.Count);
            foreach (var (id, clip) in sequential)
            {
                Assert.Equal(clip, shuffled[id]);
                Assert.Equal(clip, again[id]);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void FlowClipsLineUpWithRgbClipsAndFlipNegatesX()
    {
        var rgb = Synthetic(frames: 30, height: 20, width: 24);
        var flow = Synthetic(frames: 30, height: 20, width: 24, FrameElementKind.Flow);
        var options = new ClipSamplerOptions { Mode = ClipSamplingMode.Train, Frames = 6, CropSize = 16, Seed = 3, FlipProbability = 1 };
        var rgbClip = Sample(Sampler(options), rgb, 4);
        var flowClip = Sample(Sampler(options), flow, 4);
        Assert.Equal(2 * 6 * 256, flowClip.Length);
        for (int c = 0; c < 2; c++)
            for (int t = 0; t < 6; t++)
                for (int y = 0; y < 16; y++)
                    for (int x = 0; x < 16; x++)
                    {
                        // Same window, crop and flip: the flow value is the RGB value of the same channel, x negated.
                        float expected = At(rgbClip, 3, 6, 16, 0, c, t, y, x) * (c == 0 ? -1 : 1);
                        Assert.Equal(expected, At(flowClip, 2, 6, 16, 0, c, t, y, x), 1e-5f);
                    }
    }

    [Fact]
    public void FramesSmallerThanTheCropAndEmptyVideosAreClearErrors()
    {
        var sampler = Sampler(new ClipSamplerOptions { CropSize = 224 });
        var small = Synthetic(frames: 3, height: 100, width: 120);
        var e = Assert.Throws<InvalidDataException>(() => Sample(sampler, small, 0));
        Assert.Contains("120x100", e.Message);
        var empty = new VideoFrames(FrameElementKind.Rgb24, 0, 0, 0) { Source = "broken.mp4" };
        Assert.Contains("broken.mp4", Assert.Throws<InvalidDataException>(() => Sample(sampler, empty, 0)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampler(new ClipSamplerOptions { Frames = 0 }));
        Assert.Throws<ArgumentException>(() => Sampler(new ClipSamplerOptions { Mode = ClipSamplingMode.Train, WholeVideo = true }));
    }

    [Fact]
    public void SchemaErrorsNameTheColumn()
    {
        var ml = new MLContext(0);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = "x.mp4", Number = 1f } });
        var e = Assert.ThrowsAny<Exception>(() => ml.Transforms.SampleClips("Clip", "Path").Fit(data));
        Assert.Contains("Path", e.Message);
        e = Assert.ThrowsAny<Exception>(() => ml.Transforms.LoadVideo("Frames", "Number").Fit(data));
        Assert.Contains("Number", e.Message);
        e = Assert.ThrowsAny<Exception>(() => ml.Transforms.LoadVideo("Frames", "Nope").Fit(data));
        Assert.Contains("Nope", e.Message);
    }

    private sealed class EmptyView(DataViewSchema schema) : IDataView
    {
        public bool CanShuffle => false;

        public DataViewSchema Schema => schema;

        public long? GetRowCount() => 0;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => throw new NotSupportedException();

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => throw new NotSupportedException();
    }
}
