using I3D.MLNet.Flow;
using I3D.MLNet.Video;

namespace I3D.MLNet.Tests.Flow;

/// <summary>Inputs that must give a clear error or a correct result, never a crash or NaN.</summary>
public sealed class FlowBadInputTests
{
    private static VideoFrames Constant(int frames, int height, int width, byte value)
    {
        var rgb = new VideoFrames(FrameElementKind.Rgb24, frames, height, width) { Source = "constant" };
        rgb.Bytes.Fill(value);
        return rgb;
    }

    [Theory]
    [InlineData(FlowAlgorithm.TvL1)]
    [InlineData(FlowAlgorithm.TvL1OpenCv)]
    [InlineData(FlowAlgorithm.Farneback)]
    public void ConstantFramesGiveZeroFlowWithoutNaN(FlowAlgorithm algorithm)
    {
        var flow = OpticalFlow.Compute(Constant(3, 40, 48, 77), new FlowOptions { Algorithm = algorithm });
        Assert.Equal(FrameElementKind.Flow, flow.Kind);
        Assert.Equal((3, 40, 48), (flow.FrameCount, flow.Height, flow.Width));
        foreach (float v in flow.Floats) Assert.Equal(0f, v);
    }

    [Fact]
    public void ASingleFrameGivesOneZeroFlowFrameAndTheRawFlowRefusesIt()
    {
        var rgb = FlowTestData.Pair(FlowTestData.Translation(1, 0), 32, 32);
        rgb.Truncate(1);
        var flow = OpticalFlow.Compute(rgb);
        Assert.Equal(1, flow.FrameCount);
        foreach (float v in flow.Floats) Assert.Equal(0f, v);
        var e = Assert.Throws<ArgumentException>(() => OpticalFlow.ComputeRaw(rgb));
        Assert.Contains("at least 2 frames", e.Message);
    }

    [Fact]
    public void TheLastFlowFrameRepeatsTheLastPair()
    {
        var rgb = FlowTestData.Pair(FlowTestData.Translation(1.5, 0.5), 48, 48);
        var flow = OpticalFlow.Compute(rgb);
        Assert.Equal(2, flow.FrameCount);
        Assert.True(flow.FrameFloats(0).SequenceEqual(flow.FrameFloats(1)));
        // Encoded: 1.5 px over a bound of 20 px is 0.075 in the interior.
        Assert.Equal(0.075, flow.FrameFloats(0)[(24 * 48 + 24) * 2], 0.01);
    }

    [Fact]
    public void FramesOfDifferentSizesAreRefused()
    {
        var solver = new TvL1Solver(new TvL1Parameters());
        var e = Assert.Throws<ArgumentException>(() => solver.Compute(new byte[32 * 32], new byte[16 * 16], 32, 32, new float[32 * 32 * 2]));
        Assert.Contains("smaller than the frame size", e.Message);
    }

    [Fact]
    public void AHugeFrameIsRefusedWithAMessage()
    {
        var rgb = new VideoFrames(FrameElementKind.Rgb24, 1, 4100, 4100) { Source = "huge.mp4" };
        var e = Assert.Throws<ArgumentException>(() => OpticalFlow.Compute(rgb));
        Assert.Contains("too large", e.Message);
        Assert.Contains("huge.mp4", e.Message);
    }

    [Fact]
    public void TinyFramesAndFlowInputAreRefused()
    {
        Assert.Contains("too small", Assert.Throws<ArgumentException>(() => OpticalFlow.Compute(Constant(2, 2, 2, 0))).Message);
        var flowInput = new VideoFrames(FrameElementKind.Flow, 2, 8, 8) { Source = "f" };
        Assert.Contains("needs RGB frames", Assert.Throws<ArgumentException>(() => OpticalFlow.Compute(flowInput)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => OpticalFlow.Compute(Constant(2, 8, 8, 0), new FlowOptions { Bound = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => OpticalFlow.Compute(Constant(2, 8, 8, 0), new FlowOptions { TvL1 = new TvL1Parameters { MedianFiltering = 4 } }));
    }

    [Fact]
    public void SmallFramesStillWorkWithFewerPyramidLevels()
    {
        // 20 x 20: the second level would be 16 x 16, the third 13 x 13 (< 16): two levels.
        var motion = FlowTestData.Translation(0.6, -0.4);
        var flow = OpticalFlow.ComputeRaw(FlowTestData.Pair(motion, 20, 20));
        Assert.All(flow, v => Assert.True(float.IsFinite(v)));
        Assert.True(FlowTestData.EndPointError(flow, motion, 20, 20, 4) < 0.3);
    }

    [Fact]
    public void EncodingTruncatesScalesAndQuantises()
    {
        float[] raw = [0, 10, -20, 25, -100, 0.07f, float.NaN, 19.99f];
        var plain = new float[raw.Length];
        OpticalFlow.Encode(raw, plain, 20, quantize: false);
        Assert.Equal([0f, 0.5f, -1f, 1f, -1f, 0.0035f, 0f, 0.9995f], plain.Select(v => MathF.Round(v, 4)));
        var quantised = new float[raw.Length];
        OpticalFlow.Encode(raw, quantised, 20, quantize: true);
        Assert.Equal(0f, quantised[0]); // zero motion stays exactly zero
        Assert.Equal(1f, quantised[3]);
        Assert.Equal(-1f, quantised[2]);
        Assert.Equal(64 / 127f, quantised[1], 1e-6f); // 0.5 * 127 = 63.5 rounds to even code 64 from 128
        Assert.All(quantised, v => Assert.Equal(v, OpticalFlow.Decode(OpticalFlow.Code(v))));
        Assert.Equal(255, Enumerable.Range(-2000, 4001).Select(i => OpticalFlow.Code(i / 2000f)).Distinct().Count());
    }
}

public sealed class FlowColorTests
{
    [Fact]
    public void MiddleburyColoursZeroIsWhiteRightIsRedLeftIsCyanish()
    {
        float[] flow = [0, 0, 5, 0, -5, 0, float.NaN, 1];
        var rgb = new byte[12];
        FlowColor.ToRgb(flow, 5, rgb);
        Assert.Equal([255, 255, 255], rgb[..3]);
        Assert.True(rgb[3] > 150 && rgb[4] < 60 && rgb[5] < 80, $"right: {rgb[3]},{rgb[4]},{rgb[5]}");
        Assert.True(rgb[6] < 60 && rgb[7] > 100 && rgb[8] > 100, $"left: {rgb[6]},{rgb[7]},{rgb[8]}");
        Assert.Equal([255, 255, 255], rgb[9..12]); // non-finite shows as no motion
        Assert.Equal(5f, FlowColor.MaximumRadius(flow));
    }
}
