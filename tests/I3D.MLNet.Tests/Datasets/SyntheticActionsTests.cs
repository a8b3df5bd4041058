using System.Runtime.InteropServices;
using I3D.MLNet.Datasets;
using I3D.MLNet.Video;
using OpenCvSharp;

namespace I3D.MLNet.Tests.Datasets;

/// <summary><see cref="SyntheticActions"/>: the class families, their evidence, determinism and the files.</summary>
public sealed class SyntheticActionsTests : IDisposable
{
    private readonly string dir = TestVideos.TempDir("synthetic-actions");

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly SyntheticActionsOptions Small = new() { PerClass = 1, TestPerClass = 1, Frames = 12, Size = 48, Seed = 3 };

    [Fact]
    public void FamiliesAndClassNamesAreExactlyTheBenchmarks()
    {
        Assert.Equal(["appearance", "direction", "order", "transfer"], SyntheticActions.Families.Keys.Order());
        Assert.Equal(["still_disc", "still_square", "still_cross"], SyntheticActions.Families["appearance"]);
        Assert.Equal(["move_left", "move_right", "move_up", "move_down"], SyntheticActions.Families["direction"]);
        Assert.Equal(["grow", "shrink", "appear", "vanish"], SyntheticActions.Families["order"]);
        Assert.Equal(["move_up_left", "move_down_right", "turn_clockwise", "turn_anticlockwise"], SyntheticActions.Families["transfer"]);
        foreach (var (family, classes) in SyntheticActions.Families)
            Assert.All(classes, c => Assert.Equal(family, SyntheticActions.Family(c)));
        Assert.Throws<ArgumentException>(() => SyntheticActions.Family("turn_left"));

        Assert.Equal(11, SyntheticActions.ClassesOf(new SyntheticActionsOptions()).Count);
        Assert.Equal(["still_disc", "still_square", "still_cross", "grow", "shrink", "appear", "vanish"],
            SyntheticActions.ClassesOf(new SyntheticActionsOptions { Families = SyntheticActionFamilies.Appearance | SyntheticActionFamilies.Order }));
        Assert.Equal(SyntheticActions.Families["transfer"], SyntheticActions.ClassesOf(new SyntheticActionsOptions { Transfer = true }));
        Assert.Throws<ArgumentException>(() => SyntheticActions.Write(dir, Small with { Families = SyntheticActionFamilies.None }));
    }

    [Fact]
    public void WritesOneFolderPerClassOfTheChosenFamiliesThatVideoDatasetReads()
    {
        var options = Small with { Families = SyntheticActionFamilies.Direction, Frames = 4, Size = 32 };
        Assert.Equal(8, SyntheticActions.Write(dir, options));
        foreach (var split in new[] { "train", "test" })
        {
            Assert.Equal(SyntheticActions.Families["direction"].Order(), Directory.GetDirectories(Path.Combine(dir, split)).Select(Path.GetFileName).Order());
            var dataset = VideoDataset.FromFolder(Path.Combine(dir, split));
            Assert.Equal(SyntheticActions.Families["direction"].Order(StringComparer.Ordinal), dataset.Classes);
            Assert.Equal(4, dataset.Videos.Count);
        }
        string transfer = Path.Combine(dir, "transfer");
        Assert.Equal(8, SyntheticActions.Write(transfer, options with { Transfer = true }));
        Assert.Equal(SyntheticActions.Families["transfer"].Order(), Directory.GetDirectories(Path.Combine(transfer, "train")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void TheSameSeedWritesTheSameBytesAnotherSeedOtherBytes()
    {
        var options = Small with { Families = SyntheticActionFamilies.Appearance | SyntheticActionFamilies.Order };
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b"), c = Path.Combine(dir, "c");
        SyntheticActions.Write(a, options);
        SyntheticActions.Write(b, options);
        SyntheticActions.Write(c, options with { Seed = 4 });
        var files = Directory.GetFiles(a, "*.avi", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToList();
        Assert.Equal(14, files.Count);
        Assert.Equal(files, Directory.GetFiles(b, "*.avi", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).Order());
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(Path.Combine(a, file));
            Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, file))), $"{file}: the same seed wrote other bytes");
            Assert.False(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(c, file))), $"{file}: another seed wrote the same bytes");
        }
        // A family's videos do not depend on which other families are written.
        string order = Path.Combine(dir, "order");
        SyntheticActions.Write(order, options with { Families = SyntheticActionFamilies.Order });
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "test", "vanish", "vanish_000.avi")), File.ReadAllBytes(Path.Combine(order, "test", "vanish", "vanish_000.avi")));
    }

    [Fact]
    public void AWrittenVideoDecodesWithItsFrameCountAndSize()
    {
        SyntheticActions.Write(dir, Small with { Families = SyntheticActionFamilies.Order });
        string path = Path.Combine(dir, "train", "grow", "grow_000.avi");
        var info = VideoDecoder.Probe(path);
        Assert.Equal(("avi", 12, 48, 48, 25.0), (info.Container, info.Frames, info.Width, info.Height, info.FramesPerSecond));
        using var decoder = VideoDecoder.Open(path);
        var frames = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { FrameRate = null, ShorterSide = null }, frames);
        Assert.Equal((12, 48, 48), (frames.FrameCount, frames.Height, frames.Width));
    }

    /// <summary>Still classes: the object's pixels are the same in every frame, the background pans under them (in the
    /// rendered frames exactly; in the decoded MJPEG video up to compression).</summary>
    [Fact]
    public void AppearanceObjectsStayStillWhileTheBackgroundPans()
    {
        var options = Small with { Families = SyntheticActionFamilies.Appearance, Size = 96, PerClass = 1, TestPerClass = 0 };
        SyntheticActions.Write(dir, options);
        foreach (string name in SyntheticActions.Families["appearance"])
        {
            using var scene = SyntheticActions.Scene(name, options, "train", 0);
            var rendered = Render(scene);
            var (inside, outside) = Regions(scene);
            Assert.True(inside.Count(i => i) > 50, $"{name}: only {inside.Count(i => i)} pixels inside the object");
            double objectChange = MeanChange(rendered, inside, 0, scene.Frames - 1), backgroundChange = MeanChange(rendered, outside, 0, scene.Frames - 1);
            Assert.True(objectChange == 0, $"{name}: the object's pixels change by {objectChange:F3} (rendered)");
            Assert.True(backgroundChange > 2, $"{name}: the background changes by only {backgroundChange:F3} (rendered)");

            using var decoder = VideoDecoder.Open(Path.Combine(dir, "train", name, $"{name}_000.avi"));
            var frames = new VideoFrames();
            decoder.Decode(new VideoDecodeOptions { FrameRate = null, ShorterSide = null }, frames);
            var decoded = Enumerable.Range(0, frames.FrameCount).Select(t => frames.FrameBytes(t).ToArray()).ToArray();
            double decodedObject = MeanChange(decoded, inside, 0, scene.Frames - 1), decodedBackground = MeanChange(decoded, outside, 0, scene.Frames - 1);
            Assert.True(decodedBackground > 2 && decodedObject < 0.5 * decodedBackground,
                $"{name}: decoded, the object changes by {decodedObject:F3}, the background by {decodedBackground:F3}");
        }
    }

    [Fact]
    public void TheBackgroundAndTheDistractorsMoveInEveryClass()
    {
        foreach (string name in SyntheticActions.Families.Values.SelectMany(c => c))
        {
            using var scene = SyntheticActions.Scene(name, Small, "train", 0);
            var rendered = Render(scene);
            var (_, outside) = Regions(scene);
            Assert.True(MeanChange(rendered, outside, 0, scene.Frames - 1) > 1, $"{name}: the background does not pan");
            Assert.InRange(scene.Distractors.Count, 1, 2);
            Assert.True(Distance(scene.DistractorCentre(0, 0), scene.DistractorCentre(0, scene.Frames - 1)) > 0.5, $"{name}: the distractor does not move");
        }
    }

    /// <summary>The paper's point about temporal order: <c>shrink</c> is <c>grow</c> played backwards (the same draw
    /// gives exactly the reversed frames), so an order-free statistic has one distribution; only the order separates them.</summary>
    [Fact]
    public void ShrinkAndVanishAreGrowAndAppearPlayedBackwards()
    {
        using var renderer = new SyntheticActionRenderer();
        foreach (var (forward, backward) in new[] { ("grow", "shrink"), ("appear", "vanish"), ("turn_clockwise", "turn_anticlockwise") })
        {
            var random = SyntheticActions.VideoSeed(7, "train", "x", 0);
            using var a = SyntheticActionScene.Draw(SyntheticActions.Class(forward), 48, 12, new Random(random));
            using var b = SyntheticActionScene.Draw(SyntheticActions.Class(backward), 48, 12, new Random(random));
            var fa = Render(a);
            var fb = Render(b);
            for (int t = 0; t < 12; t++) Assert.True(fa[t].AsSpan().SequenceEqual(fb[11 - t]), $"{backward} frame {t} is not {forward} frame {11 - t}");
        }

        // Independent draws: the clip's mean object area (order-free) agrees, the sign of (end - start) separates.
        const int videos = 12;
        var meanArea = new Dictionary<string, double>();
        using var mask = new Mat();
        foreach (string name in new[] { "grow", "shrink" })
        {
            double sum = 0;
            for (int i = 0; i < videos; i++)
            {
                using var scene = SyntheticActions.Scene(name, Small, "train", i);
                var areas = Enumerable.Range(0, scene.Frames).Select(t => { renderer.ObjectMask(scene, t, mask); return Cv2.Sum(mask).Val0 / 255; }).ToArray();
                sum += areas.Average();
                Assert.True(name == "grow" ? areas[^1] > 2 * areas[0] : areas[0] > 2 * areas[^1], $"{name} {i}: area {areas[0]:F1} -> {areas[^1]:F1}");
            }
            meanArea[name] = sum / videos;
        }
        Assert.True(Math.Abs(meanArea["grow"] - meanArea["shrink"]) < 0.05 * meanArea["grow"], $"mean area over the clip: grow {meanArea["grow"]:F1}, shrink {meanArea["shrink"]:F1} px");

        double MeanAlpha(string name, out double change)
        {
            double sum = 0;
            change = 0;
            for (int i = 0; i < videos; i++)
            {
                using var scene = SyntheticActions.Scene(name, Small, "train", i);
                sum += Enumerable.Range(0, scene.Frames).Average(t => scene.Object(t).Alpha);
                change += Math.Sign(scene.Object(scene.Frames - 1).Alpha - scene.Object(0).Alpha);
            }
            return sum / videos;
        }
        Assert.True(Math.Abs(MeanAlpha("appear", out double appearing) - MeanAlpha("vanish", out double vanishing)) < 0.05);
        Assert.Equal((videos, -videos), ((int)appearing, (int)vanishing));
    }

    [Fact]
    public void DirectionClassesMoveTheObjectTheNamedWay()
    {
        using var renderer = new SyntheticActionRenderer();
        using var mask = new Mat();
        var expected = new Dictionary<string, (int X, int Y)>
        {
            ["move_left"] = (-1, 0), ["move_right"] = (1, 0), ["move_up"] = (0, -1), ["move_down"] = (0, 1),
            ["move_up_left"] = (-1, -1), ["move_down_right"] = (1, 1),
        };
        foreach (var (name, (ex, ey)) in expected)
        {
            double dx = 0, dy = 0;
            const int videos = 4;
            for (int i = 0; i < videos; i++)
            {
                using var scene = SyntheticActions.Scene(name, Small, "test", i);
                renderer.ObjectMask(scene, 0, mask);
                var start = Cv2.Moments(mask);
                renderer.ObjectMask(scene, scene.Frames - 1, mask);
                var end = Cv2.Moments(mask);
                dx += (end.M10 / end.M00 - start.M10 / start.M00) / videos;
                dy += (end.M01 / end.M00 - start.M01 / start.M00) / videos;
            }
            double travel = Math.Sqrt(dx * dx + dy * dy);
            Assert.True(travel > 0.2 * Small.Size, $"{name}: the object moves only {travel:F1} px");
            foreach (var (d, e) in new[] { (dx, ex), (dy, ey) })
                Assert.True(e == 0 ? Math.Abs(d) < 0.1 * travel : Math.Sign(d) == e, $"{name}: mean displacement ({dx:F1}, {dy:F1}) px");
        }
        // Classes of the other families do not move the object.
        foreach (string name in new[] { "still_cross", "grow", "vanish", "turn_clockwise" })
        {
            using var scene = SyntheticActions.Scene(name, Small, "test", 0);
            Assert.Equal(scene.Object(0).Centre, scene.Object(scene.Frames - 1).Centre);
        }
    }

    private static byte[][] Render(SyntheticActionScene scene)
    {
        using var renderer = new SyntheticActionRenderer();
        using var frame = new Mat();
        return [.. Enumerable.Range(0, scene.Frames).Select(t => { renderer.Render(scene, t, frame); return Bytes(frame); })];
    }

    /// <summary>Pixels fully inside the object in every frame, and pixels well away from the object and the distractors
    /// in every frame; neither region is touched by a distractor.</summary>
    private static (bool[] Inside, bool[] Outside) Regions(SyntheticActionScene scene)
    {
        using var renderer = new SyntheticActionRenderer();
        using var mask = new Mat();
        using var near = new Mat();
        using var kernel = Cv2.GetStructuringElement(MorphShapes.Ellipse, new Size(9, 9));
        int n = scene.Size * scene.Size;
        var inside = Enumerable.Repeat(true, n).ToArray();
        var outside = Enumerable.Repeat(true, n).ToArray();
        for (int t = 0; t < scene.Frames; t++)
        {
            SyntheticActionRenderer.DistractorMask(scene, t, mask);
            Cv2.Dilate(mask, near, kernel);
            var distractor = Bytes(near);
            renderer.ObjectMask(scene, t, mask);
            var full = Bytes(mask);
            Cv2.Dilate(mask, near, kernel);
            var objectNear = Bytes(near);
            for (int i = 0; i < n; i++)
            {
                inside[i] &= full[i] == 255 && distractor[i] == 0;
                outside[i] &= objectNear[i] == 0 && distractor[i] == 0;
            }
        }
        Assert.True(outside.Count(o => o) > n / 10, $"{scene.Frames} frames: only {outside.Count(o => o)} background pixels");
        return (inside, outside);
    }

    /// <summary>Mean absolute difference (over channels) between frames <paramref name="a"/> and <paramref name="b"/> in a region.</summary>
    private static double MeanChange(byte[][] frames, bool[] region, int a, int b)
    {
        double sum = 0;
        int count = 0;
        for (int i = 0; i < region.Length; i++)
        {
            if (!region[i]) continue;
            for (int c = 0; c < 3; c++) sum += Math.Abs(frames[a][3 * i + c] - frames[b][3 * i + c]);
            count += 3;
        }
        return sum / count;
    }

    private static double Distance(Point2d a, Point2d b) => Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y));

    private static byte[] Bytes(Mat mat)
    {
        using var continuous = mat.IsContinuous() ? null : mat.Clone();
        var source = continuous ?? mat;
        var bytes = new byte[source.Rows * source.Cols * source.ElemSize()];
        Marshal.Copy(source.Data, bytes, 0, bytes.Length);
        return bytes;
    }
}
