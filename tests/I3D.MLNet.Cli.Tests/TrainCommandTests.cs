using System.Diagnostics;
using System.Text.Json;

namespace I3D.MLNet.Cli.Tests;

/// <summary>i3d synth / train / evaluate / predict --model as a user runs them, on a tiny synthetic dataset.</summary>
public class TrainCommandTests
{
    private static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-train", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Synth(string dir)
    {
        string data = Path.Combine(dir, "data");
        I3dProcess.Ok("synth", "--out", data, "--per-class", "2", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "64", "--seed", "5");
        return data;
    }

    private static string[] TrainArgs(string data, string zip, int epochs = 2, params string[] extra) =>
        ["train", "--data", Path.Combine(data, "train"), "--out", zip, "--streams", "rgb", "--clip-frames", "8", "--crop-size", "56", "--epochs", $"{epochs}",
         "--batch-size", "3", "--validation-fraction", "0", "--seed", "3", "--threads", "1", .. extra];

    private static float[][] Logits(string zip, string[] videos)
    {
        var result = I3dProcess.Ok(["predict", .. videos, "--model", zip, "--json"]);
        using var json = JsonDocument.Parse(result.Stdout);
        return [.. json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray())];
    }

    /// <summary>One libtorch thread: with several, parallel reductions may differ run to run on a loaded machine,
    /// which would hide what this checks (that a resumed run repeats the interrupted one exactly).</summary>
    [Fact]
    public void KilledTrainingResumesToTheSameWeightsAsAnUninterruptedRun()
    {
        string dir = Temp("resume");
        string data = Synth(dir);
        string[] testVideos = Directory.GetFiles(Path.Combine(data, "test"), "*.avi", SearchOption.AllDirectories).Order().ToArray();

        string straight = Path.Combine(dir, "straight.zip");
        I3dProcess.Ok(TrainArgs(data, straight));

        // Start the same training with checkpoints, kill -9 it once a mid-run checkpoint is on disk, run it again.
        string checkpoints = Path.Combine(dir, "ckpt");
        string resumed = Path.Combine(dir, "resumed.zip");
        string[] args = TrainArgs(data, resumed, 2, "--checkpoint-dir", checkpoints, "--checkpoint-every", "1");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(I3dProcess.Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        using (var first = Process.Start(info)!)
        {
            _ = first.StandardError.ReadToEndAsync();
            _ = first.StandardOutput.ReadToEndAsync();
            string checkpoint = Path.Combine(checkpoints, "checkpoint.bin");
            var clock = Stopwatch.StartNew();
            // Two checkpoint writes seen: the run is past its first SGD steps, in the middle of epoch 1.
            DateTime firstWrite = default;
            while (!first.HasExited && clock.Elapsed < TimeSpan.FromMinutes(5))
            {
                if (File.Exists(checkpoint))
                {
                    var written = File.GetLastWriteTimeUtc(checkpoint);
                    if (firstWrite == default) firstWrite = written;
                    else if (written != firstWrite) break;
                }
                Thread.Sleep(20);
            }
            Assert.False(first.HasExited, "the run ended before it could be interrupted");
            first.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
            first.WaitForExit();
        }
        Assert.False(File.Exists(resumed), "the killed run must not have written the model");
        var second = I3dProcess.Ok(args);
        Assert.Contains("resuming from", second.Stderr);

        var expected = Logits(straight, testVideos);
        var actual = Logits(resumed, testVideos);
        for (int v = 0; v < expected.Length; v++)
            for (int c = 0; c < expected[v].Length; c++)
                Assert.True(Math.Abs(expected[v][c] - actual[v][c]) <= 1e-4 * (1 + Math.Abs(expected[v][c])),
                    $"video {v} class {c}: uninterrupted {expected[v][c]}, resumed {actual[v][c]}");
    }

    [Fact]
    public void EvaluateReportsJsonAndRefusesUnknownLabels()
    {
        string dir = Temp("evaluate");
        string data = Synth(dir);
        string zip = Path.Combine(dir, "model.zip");
        I3dProcess.Ok(TrainArgs(data, zip, epochs: 1));

        var result = I3dProcess.Ok("evaluate", "--model", zip, "--data", Path.Combine(data, "test"), "--json");
        using (var json = JsonDocument.Parse(result.Stdout.Trim().Split('\n')[^1]))
        {
            var root = json.RootElement;
            Assert.InRange(root.GetProperty("accuracy").GetDouble(), 0, 1);
            Assert.InRange(root.GetProperty("top5").GetDouble(), root.GetProperty("accuracy").GetDouble(), 1);
            Assert.Equal(6, root.GetProperty("confusion").GetArrayLength());
            Assert.Equal(6, root.GetProperty("confusion").EnumerateArray().Sum(r => r.EnumerateArray().Sum(v => v.GetInt32())));
            Assert.Equal(6, root.GetProperty("perClass").EnumerateObject().Count());
        }

        // A class the model never saw: one clear line naming it.
        string extra = Path.Combine(data, "test", "jumping");
        Directory.CreateDirectory(extra);
        File.Copy(Directory.GetFiles(Path.Combine(data, "test", "move_left"))[0], Path.Combine(extra, "x.avi"));
        var bad = I3dProcess.Run("evaluate", "--model", zip, "--data", Path.Combine(data, "test"));
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("jumping", bad.Stderr);

        // Empty class folder and a single class: refused before any training.
        string single = Path.Combine(dir, "single");
        Directory.CreateDirectory(Path.Combine(single, "only"));
        var empty = I3dProcess.Run("train", "--data", single, "--out", Path.Combine(dir, "x.zip"));
        Assert.NotEqual(0, empty.ExitCode);
        Assert.Contains("holds no video files", empty.Stderr);
        File.Copy(Directory.GetFiles(Path.Combine(data, "test", "move_left"))[0], Path.Combine(single, "only", "x.avi"));
        var one = I3dProcess.Run("train", "--data", single, "--out", Path.Combine(dir, "x.zip"));
        Assert.NotEqual(0, one.ExitCode);
        Assert.Contains("only one class", one.Stderr);
    }

    [Fact]
    public void SkipInvalidDecodesInAWorkerAndTrainsPastABrokenVideo()
    {
        string dir = Temp("skip-invalid");
        string data = Synth(dir);
        string broken = Path.Combine(data, "train", "move_left", "broken.avi");
        var bytes = new byte[20_000];
        new Random(4).NextBytes(bytes);
        File.WriteAllBytes(broken, bytes);

        var strict = I3dProcess.Run(TrainArgs(data, Path.Combine(dir, "strict.zip"), epochs: 1));
        Assert.NotEqual(0, strict.ExitCode);
        Assert.Contains("broken.avi", strict.Stderr);

        string zip = Path.Combine(dir, "skip.zip");
        var skipping = I3dProcess.Ok(TrainArgs(data, zip, 1, "--skip-invalid"));
        Assert.Contains("LoadVideo: skipping", skipping.Stderr);
        Assert.Contains("broken.avi", skipping.Stderr);
        Assert.True(File.Exists(zip));
        var logits = Assert.Single(Logits(zip, [Directory.GetFiles(Path.Combine(data, "test", "move_up"))[0]]));
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
    }
}
