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

public sealed class TvL1ParameterTests(ITestOutputHelper output)
{
    /// <summary>Non-default parameters reach both implementations the same way: ours tracks OpenCV's under each.</summary>
    [Theory]
    [InlineData(0.3, 0.25, 3, 3, 0.01)]   // lambda, tau, scales, warps, epsilon
    [InlineData(0.05, 0.2, 5, 2, 0.02)]
    public void OursTracksOpenCvUnderOtherParameters(double lambda, double tau, int scales, int warps, double epsilon)
    {
        var motion = FlowTestData.Zoom(1.04, 40, 40);
        var pair = FlowTestData.Pair(motion, 80, 80, seed: 3);
        var parameters = new TvL1Parameters { Lambda = lambda, Tau = tau, Scales = scales, Warps = warps, Epsilon = epsilon };
        var ours = OpticalFlow.ComputeRaw(pair, new FlowOptions { TvL1 = parameters });
        var reference = OpticalFlow.ComputeRaw(pair, new FlowOptions { Algorithm = FlowAlgorithm.TvL1OpenCv, TvL1 = parameters });
        var defaults = OpticalFlow.ComputeRaw(pair, new FlowOptions { Algorithm = FlowAlgorithm.TvL1OpenCv });
        double epe = FlowTestData.EndPointError(ours, reference), moved = FlowTestData.EndPointError(reference, defaults);
        output.WriteLine($"lambda {lambda} tau {tau} scales {scales} warps {warps} eps {epsilon}: ours vs OpenCV {epe:0.0000} px; OpenCV vs its defaults {moved:0.0000} px");
        Assert.True(epe <= 0.05, $"ours vs OpenCV {epe} px");
        Assert.True(moved > 2 * epe, "the parameters must change OpenCV's result more than ours differs from it");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void OtherMedianSizesWork(int median)
    {
        var motion = FlowTestData.Translation(0.8, 0.3);
        var flow = OpticalFlow.ComputeRaw(FlowTestData.Pair(motion, 64, 64), new FlowOptions { TvL1 = new TvL1Parameters { MedianFiltering = median } });
        double epe = FlowTestData.EndPointError(flow, motion, 64, 64, 12);
        output.WriteLine($"median {median}: EPE {epe:0.0000} px");
        Assert.True(epe < 0.1, $"median {median}: EPE {epe}");
    }

    [Fact]
    public void OpenCvRefusesParametersItsWrapperCannotSet()
    {
        var pair = FlowTestData.Pair(FlowTestData.Translation(1, 0), 32, 32);
        var e = Assert.Throws<NotSupportedException>(() => OpticalFlow.ComputeRaw(pair, new FlowOptions { Algorithm = FlowAlgorithm.TvL1OpenCv, TvL1 = new TvL1Parameters { InnerIterations = 10 } }));
        Assert.Contains("InnerIterations", e.Message);
    }
}
