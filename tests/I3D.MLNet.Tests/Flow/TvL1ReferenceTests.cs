using System.Runtime.Intrinsics;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests.Flow;

/// <summary>Our TV-L1 against OpenCV's on real clips (shared data), and the pieces it is built from.</summary>
public sealed class TvL1ReferenceTests(ITestOutputHelper output)
{
    private static VideoFrames Decode(string name, int frames, int shorterSide)
    {
        using var decoder = VideoDecoder.Open(SharedData.Video(name));
        var rgb = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { MaximumFrames = frames, ShorterSide = shorterSide }, rgb);
        return rgb;
    }

    [SkippableFact]
    public void OursAgreesWithOpenCvNativeTvL1OnRealClips()
    {
        foreach (var name in new[] { "mmaction2_demo.mp4", "abseiling_k400.mp4" })
        {
            var rgb = Decode(name, 3, 112);
            var ours = OpticalFlow.ComputeRaw(rgb, new FlowOptions { Algorithm = FlowAlgorithm.TvL1 });
            var reference = OpticalFlow.ComputeRaw(rgb, new FlowOptions { Algorithm = FlowAlgorithm.TvL1OpenCv });
            double epe = FlowTestData.EndPointError(ours, reference);
            double motion = FlowTestData.EndPointError(reference, new float[reference.Length]);
            output.WriteLine($"{name} {rgb.Width}x{rgb.Height}, {rgb.FrameCount - 1} pairs: EPE ours vs OpenCV (native) {epe:0.0000} px; mean motion {motion:0.000} px");
            Assert.True(motion > 0.2, $"{name}: the clip should move (mean {motion} px)");
            Assert.True(epe <= 0.15, $"{name}: EPE {epe} px against OpenCV's TV-L1");
        }
    }

    /// <summary>Against Debian's python3-opencv 4.6 <c>cv2.optflow.DualTVL1OpticalFlow_create()</c> on <c>cvtColor(BGR2GRAY)</c> frames.</summary>
    [SkippableFact]
    public void OursAgreesWithPythonOpenCvOptflowDualTvL1()
    {
        string python = SharedData.RequireTool("/usr/bin/python3");
        try
        {
            SharedData.Run(python, ["-c", "import cv2; cv2.optflow.DualTVL1OpticalFlow_create()"], TimeSpan.FromMinutes(1));
        }
        catch (InvalidOperationException)
        {
            Skip.If(true, "/usr/bin/python3 has no cv2.optflow (apt-get install python3-opencv)");
        }
        var rgb = Decode("mmaction2_demo.mp4", 3, 112);
        string dir = TestVideos.TempDir("flow-python");
        var values = new float[rgb.Bytes.Length];
        for (int i = 0; i < values.Length; i++) values[i] = rgb.Bytes[i];
        string rgbPath = Path.Combine(dir, "rgb.npy"), refPath = Path.Combine(dir, "ref.npy");
        Npy.Write(rgbPath, values, rgb.FrameCount, rgb.Height, rgb.Width, 3);
        const string script = """
            import sys, numpy as np, cv2
            rgb = np.load(sys.argv[1]).astype(np.uint8)
            out = []
            for t in range(len(rgb) - 1):
                g0 = cv2.cvtColor(np.ascontiguousarray(rgb[t][..., ::-1]), cv2.COLOR_BGR2GRAY)
                g1 = cv2.cvtColor(np.ascontiguousarray(rgb[t + 1][..., ::-1]), cv2.COLOR_BGR2GRAY)
                out.append(cv2.optflow.DualTVL1OpticalFlow_create().calc(g0, g1, None))
            np.save(sys.argv[2], np.stack(out).astype(np.float32))
            """;
        SharedData.Run(python, ["-c", script, rgbPath, refPath], TimeSpan.FromMinutes(5));
        var reference = Npy.Read(refPath);
        Assert.Equal([rgb.FrameCount - 1, rgb.Height, rgb.Width, 2], reference.Shape);
        var ours = OpticalFlow.ComputeRaw(rgb);
        double epe = FlowTestData.EndPointError(ours, reference.Data);
        output.WriteLine($"EPE ours vs python3-opencv optflow DualTVL1: {epe:0.0000} px over {rgb.FrameCount - 1} pairs of {rgb.Width}x{rgb.Height}");
        Assert.True(epe <= 0.15, $"EPE {epe} px against python3-opencv");
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(25)]
    public void MedianNetworksSelectTheMedian(int n)
    {
        var network = MedianNetwork.For(n);
        var random = new Random(n);
        var values = new float[n];
        for (int trial = 0; trial < 2000; trial++)
        {
            // Few distinct values half of the time: ties must work too.
            for (int i = 0; i < n; i++) values[i] = trial % 2 == 0 ? random.Next(4) : (float)random.NextDouble();
            var sorted = values.Order().ToArray();
            Assert.Equal(sorted[(n - 1) / 2], network.Select(values.ToArray()));
        }
    }

    [Fact]
    public void VectorMedianKernelsMatchASort()
    {
        var random = new Random(5);
        foreach (int n in new[] { 9, 25 })
        {
            var lanes = new float[n][];
            for (int i = 0; i < n; i++) lanes[i] = Enumerable.Range(0, 16).Select(_ => random.Next(6) + (float)random.NextDouble()).ToArray();
            var v = lanes.Select(l => Vector512.Create(l)).ToArray();
            var median = n == 9
                ? MedianKernels.Median9(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8])
                : MedianKernels.Median25(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18], v[19], v[20], v[21], v[22], v[23], v[24]);
            for (int lane = 0; lane < 16; lane++)
                Assert.Equal(lanes.Select(l => l[lane]).Order().ElementAt((n - 1) / 2), median[lane]);
        }
    }
}
