using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using I3D.MLNet.IO;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;

namespace I3D.MLNet.Cli.Tests;

public class VideoCommandTests
{
    private static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    [SkippableFact]
    public void InfoJsonCountsTheFramesFfprobeCounts()
    {
        SharedData.Require("data/videos");
        var expected = new Dictionary<string, int>();
        foreach (var line in File.ReadLines(Path.Combine(SharedData.Root, "data", "README.md")))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray();
            if (cells.Length >= 10 && Regex.IsMatch(cells[1], @"\.(mp4|avi|gif)$")) expected[cells[1]] = int.Parse(cells[9], CultureInfo.InvariantCulture);
        }
        var paths = expected.Keys.Select(n => Path.Combine(SharedData.Videos, n)).ToArray();
        var result = I3dProcess.Ok(["info", .. paths, "--json"]);
        using var json = JsonDocument.Parse(result.Stdout);
        var videos = json.RootElement.GetProperty("videos").EnumerateArray().ToList();
        Assert.Equal(paths.Length, videos.Count);
        foreach (var v in videos)
        {
            string name = Path.GetFileName(v.GetProperty("path").GetString()!);
            Assert.Equal(expected[name], v.GetProperty("frames").GetInt32());
            foreach (var key in new[] { "container", "codec", "width", "height", "fps", "duration" }) Assert.True(v.TryGetProperty(key, out _), $"{name}: no '{key}'");
        }
        var demo = videos.Single(v => v.GetProperty("path").GetString()!.EndsWith("mmaction2_demo.mp4"));
        Assert.Equal("h264", demo.GetProperty("codec").GetString());
        Assert.Equal(340, demo.GetProperty("width").GetInt32());
        Assert.Equal(28, demo.GetProperty("fps").GetDouble());
        Assert.Equal(10, demo.GetProperty("duration").GetDouble(), 3);
        Assert.Equal(FFmpegLibraries.Problem is null ? "ffmpeg" : "opencv", demo.GetProperty("decoder").GetString());
        var forced = I3dProcess.Run(["info", demo.GetProperty("path").GetString()!], new Dictionary<string, string> { ["I3D_VIDEO_DECODER"] = "opencv" });
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("28 fps, 280 frames, 10 s (decoded with opencv)", forced.Stdout);
    }

    /// <summary>A relative name with a colon is a URL to FFmpeg ("http:", "subfile,,...:", a folder "data:..." for its
    /// data: protocol): each FFmpeg is given the file's full path behind "file:" (VideoDecoder.FileUrl). Both failed to
    /// open before that ("could not open this avi file").</summary>
    [SkippableTheory]
    [InlineData("ffmpeg")]
    [InlineData("opencv")]
    public void AFileWhoseNameLooksLikeAUrlIsOpenedAsAFile(string decoder)
    {
        Skip.If(decoder == "ffmpeg" && FFmpegLibraries.Problem is not null, $"the system's FFmpeg: {FFmpegLibraries.Problem}");
        string video = SharedData.Video("mmaction2_tests_test.avi");
        string dir = Temp("url-names");
        Directory.CreateDirectory(Path.Combine(dir, "data:set"));
        string[] names = ["http:clip.avi", "subfile,,start,0,end,100,,:clip.avi", Path.Combine("data:set", "clip.avi")];
        foreach (string name in names) File.Copy(video, Path.Combine(dir, name));
        var result = I3dProcess.Run(["info", .. names, "--json"], new Dictionary<string, string> { ["I3D_VIDEO_DECODER"] = decoder }, dir);
        Assert.True(result.ExitCode == 0, result.Stderr);
        using var json = JsonDocument.Parse(result.Stdout);
        var videos = json.RootElement.GetProperty("videos").EnumerateArray().ToList();
        Assert.Equal(names.Length, videos.Count);
        foreach (var v in videos)
        {
            Assert.Equal(164, v.GetProperty("frames").GetInt32());
            Assert.Equal(decoder, v.GetProperty("decoder").GetString());
        }
    }

    [SkippableFact]
    public void ClipsWritesKineticsLayoutAndASavedPipelineGivesIdenticalClipsInANewProcess()
    {
        string video = SharedData.Video("mmaction2_tests_test.avi");
        string dir = Temp("clips");
        string zip = Path.Combine(dir, "pipeline.zip");
        I3dProcess.Ok("clips", video, "--out", Path.Combine(dir, "a.npy"), "--clip-frames", "16", "--crop-size", "112", "--mode", "train", "--seed", "11", "--save-pipeline", zip);
        I3dProcess.Ok("clips", video, "--out", Path.Combine(dir, "b.npy"), "--pipeline", zip);
        var a = Npy.Read(Path.Combine(dir, "a.npy"));
        var b = Npy.Read(Path.Combine(dir, "b.npy"));
        Assert.Equal([1, 16, 112, 112, 3], a.Shape);
        Assert.Equal(a.Shape, b.Shape);
        Assert.Equal(a.Data, b.Data);
        Assert.InRange(a.Data.Min(), -1f, 1f);
        Assert.InRange(a.Data.Max(), -1f, 1.000001f);
        Assert.True(a.Data.Distinct().Count() > 100, "a real clip, not a constant");

        // A different seed gives a different clip: the saved pipeline really carries the seed.
        I3dProcess.Ok("clips", video, "--out", Path.Combine(dir, "c.npy"), "--clip-frames", "16", "--crop-size", "112", "--mode", "train", "--seed", "12");
        Assert.NotEqual(a.Data, Npy.Read(Path.Combine(dir, "c.npy")).Data);
    }

    [SkippableFact]
    public void PeakMemoryDoesNotGrowWithTheNumberOfVideos()
    {
        SharedData.Require("data/videos");
        var all = Directory.GetFiles(SharedData.Videos).Where(f => !f.EndsWith(".gif")).OrderBy(f => f).ToArray();
        string[] Videos(int n) => Enumerable.Range(0, n).Select(i => all[i % all.Length]).ToArray();
        double PeakMb(int n)
        {
            string dir = Temp($"mem{n}");
            var result = I3dProcess.Ok(["clips", .. Videos(n), "--out-dir", dir, "--clip-frames", "16", "--crop-size", "112", "--stats"]);
            Directory.Delete(dir, recursive: true);
            var match = Regex.Match(result.Stderr, @"peak RSS ([\d.]+) MB");
            Assert.True(match.Success, result.Stderr);
            return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        }
        double five = PeakMb(5), fifty = PeakMb(50);
        Assert.True(fifty <= 1.2 * five, $"peak RSS {fifty:0.#} MB for 50 videos vs {five:0.#} MB for 5 (ratio {fifty / five:0.###}, limit 1.2)");
    }

    [Fact]
    public void ErrorsAreOneLineWithTheFileNameAndANonZeroExit()
    {
        string dir = Temp("errors");
        string random = Path.Combine(dir, "random.mp4");
        File.WriteAllBytes(random, Enumerable.Range(0, 10000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        foreach (var (args, needle) in new (string[], string)[]
        {
            (["info", Path.Combine(dir, "missing.mp4")], "missing.mp4: no such file"),
            (["info", dir], "is a directory"),
            (["info", random], "random.mp4"),
            (["clips", random, "--out", Path.Combine(dir, "x.npy")], "random.mp4"),
            (["clips", random], "--out"),
        })
        {
            var result = I3dProcess.Run(args);
            Assert.NotEqual(0, result.ExitCode);
            string[] lines = result.Stderr.Trim().Split('\n');
            Assert.True(lines.Length == 1, $"i3d {string.Join(' ', args)}: expected one line on stderr, got:\n{result.Stderr}");
            Assert.Contains(needle, lines[0]);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
    }
}
