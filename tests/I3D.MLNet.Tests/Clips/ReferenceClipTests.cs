using I3D.MLNet.Clips;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Tests.Clips;

/// <summary>Our decoded, resampled, cropped clip against one the ffmpeg command line makes in the test.</summary>
public class ReferenceClipTests
{
    [SkippableTheory]
    [InlineData(VideoDecoderBackend.FFmpeg, 0)]
    [InlineData(VideoDecoderBackend.OpenCv, 1)]
    public void TestModeClipOfTheDemoVideoEqualsFfmpegsWithinOneLevel(VideoDecoderBackend backend, int levels)
    {
        Video.DecoderBackendTests.Require(backend);
        string ffmpeg = SharedData.RequireTool("ffmpeg");
        string video = SharedData.Video("mmaction2_demo.mp4");

        // Reference: fps=25 (ffmpeg's frame picking), shorter side 256 bilinear, centre 224 crop, rgb24: exactly what the
        // system's FFmpeg gives. For OpenCV's, the final conversion to rgb24 is asked for with nearest chroma and no
        // dither, as OpenCV's FFmpeg (C code only) converts, and may differ by a level in rounding.
        string[] conversion = backend == VideoDecoderBackend.OpenCv ? [",scale=flags=neighbor:sws_dither=none,format=rgb24"] : [];
        using var raw = new MemoryStream();
        SharedData.Run(ffmpeg, ["-v", "error", "-i", video, "-vf", string.Concat(["fps=25,scale=-2:256:flags=bilinear,crop=224:224", .. conversion]),
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdoutSink: raw);
        byte[] reference = raw.ToArray();
        int frameBytes = 224 * 224 * 3;
        Assert.Equal(0, reference.Length % frameBytes);
        int referenceFrames = reference.Length / frameBytes;

        var ml = new MLContext(0);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = video } });
        var pipeline = ml.Transforms.LoadVideo("Frames", "Path", new VideoLoaderOptions { Decoder = backend }).Append(ml.Transforms.SampleClips("Clip", "Frames"));
        var output = pipeline.Fit(data).Transform(data);
        var clip = output.GetColumn<VBuffer<float>>("Clip").Single().DenseValues().ToArray();
        Assert.Equal(3 * 64 * 224 * 224, clip.Length);

        int start = (referenceFrames - 64) / 2; // the centred clip
        double maxError = 0, sumError = 0;
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < 64; t++)
                for (int p = 0; p < 224 * 224; p++)
                {
                    double expected = reference[(start + t) * frameBytes + p * 3 + c] / 127.5 - 1;
                    double error = Math.Abs(clip[(c * 64 + t) * 224 * 224 + p] - expected);
                    maxError = Math.Max(maxError, error);
                    sumError += error;
                }
        Assert.Equal(250, referenceFrames);
        Assert.True(maxError <= levels / 127.5 + 1e-6, $"max |ours - ffmpeg| = {maxError * 127.5:0.###} levels (mean {sumError / clip.Length * 127.5:0.####})");
    }
}
