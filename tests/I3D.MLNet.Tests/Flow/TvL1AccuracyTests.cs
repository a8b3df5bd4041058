using I3D.MLNet.Flow;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests.Flow;

/// <summary>Both TV-L1 implementations against known motion (default OpenCV parameters, 112 x 112 frames).</summary>
public sealed class TvL1AccuracyTests(ITestOutputHelper output)
{
    private const int Size = 112, Margin = 16;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var algorithm in new[] { "tvl1", "tvl1-opencv" })
        foreach (var motion in new[] { "translation", "rotation", "zoom" })
            data.Add(algorithm, motion);
        return data;
    }

    private static FlowTestData.Motion MotionNamed(string name) => name switch
    {
        "translation" => FlowTestData.Translation(1.37, -0.62),
        "rotation" => FlowTestData.Rotation(2.0, (Size - 1) / 2.0, (Size - 1) / 2.0),
        _ => FlowTestData.Zoom(1.035, (Size - 1) / 2.0, (Size - 1) / 2.0),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MeanEndPointErrorAgainstTheTruthIsAtMostATenthOfAPixel(string algorithm, string motionName)
    {
        var motion = MotionNamed(motionName);
        var pair = FlowTestData.Pair(motion, Size, Size);
        var options = new FlowOptions { Algorithm = algorithm == "tvl1" ? FlowAlgorithm.TvL1 : FlowAlgorithm.TvL1OpenCv };
        var flow = OpticalFlow.ComputeRaw(pair, options);
        double epe = FlowTestData.EndPointError(flow, motion, Size, Size, Margin);
        var zero = new float[flow.Length];
        double motionSize = FlowTestData.EndPointError(zero, motion, Size, Size, Margin);
        output.WriteLine($"{algorithm} {motion.Name}: EPE {epe:0.0000} px (mean motion {motionSize:0.000} px)");
        Assert.True(motionSize > 0.5, "the motion must be large enough to mean something");
        Assert.True(epe <= 0.1, $"{algorithm} on {motion.Name}: mean end-point error {epe:0.0000} px > 0.1 px");
    }

    [Fact]
    public void FarnebackRecoversATranslationRoughly()
    {
        var motion = FlowTestData.Translation(1.37, -0.62);
        var flow = OpticalFlow.ComputeRaw(FlowTestData.Pair(motion, Size, Size), new FlowOptions { Algorithm = FlowAlgorithm.Farneback });
        double epe = FlowTestData.EndPointError(flow, motion, Size, Size, Margin);
        output.WriteLine($"farneback {motion.Name}: EPE {epe:0.0000} px");
        Assert.True(epe < 0.5, $"Farneback EPE {epe} px");
    }
}
