using System.Text.Json;

namespace I3D.MLNet.Cli.Tests;

/// <summary><c>i3d experiment architectures</c> in fresh processes: Table 2's files, cells cached so a run resumes to the same table.</summary>
public sealed class ExperimentCommandTests
{
    [Fact]
    public void ComparesArchitecturesWritesTheTableAndResumesFromItsCells()
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-experiment", Guid.NewGuid().ToString("N"));
        try
        {
            string data = Path.Combine(dir, "data"), report = Path.Combine(dir, "report");
            I3dProcess.Ok("synth", "--out", data, "--families", "appearance,direction", "--per-class", "2", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "48", "--seed", "3");
            string[] args = ["experiment", "architectures", "--data", data, "--out", report, "--architectures", "two-stream,lstm", "--epochs", "1",
                "--crop-size", "32", "--clip-frames", "4", "--batch-size", "4", "--threads", "1", "--json"];
            var first = I3dProcess.Ok(args);
            using var json = JsonDocument.Parse(first.Stdout);
            var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
            Assert.Equal([("TwoStream2d", "rgb"), ("TwoStream2d", "flow"), ("TwoStream2d", "rgb+flow"), ("ConvNetLstm", "rgb")],
                results.Select(r => (r.GetProperty("architecture").GetString(), r.GetProperty("streams").GetString())));
            foreach (var r in results)
            {
                Assert.InRange(r.GetProperty("accuracy").GetDouble(), 0, 1);
                Assert.Equal(7, r.GetProperty("perClass").EnumerateObject().Count());
                Assert.Equal(["appearance", "direction"], r.GetProperty("perFamily").EnumerateObject().Select(p => p.Name).Order());
            }
            string markdown = File.ReadAllText(Path.Combine(report, "architectures.md"));
            Assert.Contains("| architecture | RGB | Flow | RGB + Flow |", markdown);
            Assert.Contains("| ConvNetLstm |", markdown);
            Assert.StartsWith("<svg", File.ReadAllText(Path.Combine(report, "architectures.svg")));

            // Again: every cell from the cache. Without one cell (as after a kill): that one trained again, to the same table.
            var second = I3dProcess.Ok(args);
            Assert.Contains("TwoStream2d: cached", second.Stderr);
            Assert.Equal(first.Stdout, second.Stdout);
            File.Delete(Path.Combine(report, "cells", "lstm.json"));
            Directory.Delete(Path.Combine(report, "checkpoints", "lstm"), recursive: true);
            var third = I3dProcess.Ok(args);
            Assert.DoesNotContain("ConvNetLstm: cached", third.Stderr);
            Assert.Equal(first.Stdout, third.Stdout);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Issue 13's acceptance: a run SIGKILLed inside an architecture's training, then run again, prints the
    /// table an uninterrupted run prints (the training resumes from its checkpoint, not from the start or the cache).</summary>
    [Fact]
    public async Task AKilledRunResumesToTheTableOfAnUninterruptedOne()
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-experiment", Guid.NewGuid().ToString("N"));
        try
        {
            string data = Path.Combine(dir, "data");
            I3dProcess.Ok("synth", "--out", data, "--families", "direction,order", "--per-class", "3", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "48", "--seed", "4");
            string[] Args(string report) => ["experiment", "architectures", "--data", data, "--out", report, "--architectures", "i3d", "--epochs", "3",
                "--crop-size", "32", "--clip-frames", "8", "--batch-size", "4", "--threads", "1", "--json"];
            var whole = I3dProcess.Ok(Args(Path.Combine(dir, "whole")));

            string report = Path.Combine(dir, "killed");
            using (var killed = I3dProcess.Start(Args(report)))
            {
                var stdout = killed.StandardOutput.ReadToEndAsync();
                string? line;
                while ((line = killed.StandardError.ReadLine()) != null && !line.Contains("epoch 2/3 flow")) { }
                Assert.NotNull(line);
                killed.Kill(entireProcessTree: true); // SIGKILL once epoch 2 is reported: its step-10 checkpoint (or its end's) is on disk
                killed.WaitForExit();
                Assert.NotEqual(0, killed.ExitCode);
                Assert.Equal("", await stdout);
            }
            Assert.False(File.Exists(Path.Combine(report, "architectures.json")));
            var resumed = I3dProcess.Ok(Args(report));
            // From a checkpoint of the killed run (epoch 2's last ten steps or its end), not from the start or the cache.
            Assert.Matches(@"I3D: resuming from \S+ at epoch [23], row \d+, step [1-9]\d*", resumed.Stderr);
            Assert.Equal(whole.Stdout, resumed.Stdout);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Issue 13: "the same on UCF-101 / HMDB-51 split files". One set of videos under a UCF-101 layout, listed
    /// once by UCF-101's classInd / trainlist / testlist and once by HMDB-51's split files, in the same order: the same
    /// table. Bad split options are one line each, before anything is trained.</summary>
    [Fact]
    public void UcfAndHmdbSplitFilesOfTheSameVideosGiveTheSameTable()
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-experiment", Guid.NewGuid().ToString("N"));
        try
        {
            string data = Path.Combine(dir, "data"), root = Path.Combine(dir, "videos"), ucf = Path.Combine(dir, "ucf"), hmdb = Path.Combine(dir, "hmdb");
            I3dProcess.Ok("synth", "--out", data, "--families", "direction", "--per-class", "2", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "48", "--seed", "5");
            var classes = Directory.GetDirectories(Path.Combine(data, "train")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            Directory.CreateDirectory(ucf);
            Directory.CreateDirectory(hmdb);
            var trainList = new List<string>();
            var testList = new List<string>();
            foreach (var (label, index) in classes.Select((c, i) => (c!, i + 1)))
            {
                Directory.CreateDirectory(Path.Combine(root, label));
                var split = new List<string>();
                foreach (var (part, list, mark) in new[] { ("train", trainList, "1"), ("test", testList, "2") })
                    foreach (var video in Directory.GetFiles(Path.Combine(data, part, label)).Order(StringComparer.Ordinal))
                    {
                        string name = $"{part}_{Path.GetFileName(video)}";
                        File.Copy(video, Path.Combine(root, label, name));
                        list.Add(part == "train" ? $"{label}/{name} {index}" : $"{label}/{name}");
                        split.Add($"{name} {mark}");
                    }
                File.WriteAllLines(Path.Combine(hmdb, $"{label}_test_split1.txt"), split);
            }
            File.WriteAllLines(Path.Combine(ucf, "classInd.txt"), classes.Select((c, i) => $"{i + 1} {c}"));
            File.WriteAllLines(Path.Combine(ucf, "trainlist01.txt"), trainList);
            File.WriteAllLines(Path.Combine(ucf, "testlist01.txt"), testList);

            string[] Args(string report, params string[] data) => ["experiment", "architectures", .. data, "--video-root", root, "--out", Path.Combine(dir, report),
                "--architectures", "two-stream", "--epochs", "1", "--crop-size", "32", "--clip-frames", "4", "--batch-size", "4", "--threads", "1", "--json"];
            var fromUcf = I3dProcess.Ok(Args("report-ucf", "--data", Path.Combine(ucf, "classInd.txt"), "--ucf-split", "1"));
            Assert.Contains("8 training videos", fromUcf.Stderr);
            var fromHmdb = I3dProcess.Ok(Args("report-hmdb", "--data", hmdb, "--hmdb-split", "1"));
            Assert.Equal(fromUcf.Stdout, fromHmdb.Stdout);
            using var json = JsonDocument.Parse(fromUcf.Stdout);
            var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
            Assert.Equal(3, results.Count);
            Assert.All(results, r => Assert.Equal(classes, r.GetProperty("perClass").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)));

            // The transfer experiment's target from the same split files (the paper's targets are UCF-101 and HMDB-51).
            var transfer = I3dProcess.Ok(["experiment", "transfer", "--source", data, "--target", Path.Combine(ucf, "classInd.txt"), "--ucf-split", "1", "--video-root", root,
                "--out", Path.Combine(dir, "report-transfer"), "--architectures", "two-stream", "--target-per-class", "1", "--epochs", "1", "--crop-size", "32", "--clip-frames", "4",
                "--batch-size", "4", "--threads", "1", "--json"]);
            Assert.Contains("TwoStream2d Full-FT: Both clips", transfer.Stderr);
            Assert.Contains("4 training videos", transfer.Stderr); // the target's first video of each class
            using var transferJson = JsonDocument.Parse(transfer.Stdout);
            Assert.Equal(9, transferJson.RootElement.GetProperty("results").GetArrayLength()); // RGB, flow, fused x Original, Fixed, Full-FT

            foreach (var (args, exit, expected) in new (string[], int, string)[]
            {
                (["--data", Path.Combine(ucf, "classInd.txt"), "--ucf-split", "2", "--video-root", root], 1, Path.Combine(ucf, "trainlist02.txt") + ": no such file"),
                (["--data", Path.Combine(ucf, "classInd.txt"), "--ucf-split", "4", "--video-root", root], 2, "--ucf-split 4: UCF-101 has splits 1, 2 and 3"),
                (["--data", Path.Combine(ucf, "classInd.txt"), "--ucf-split", "1"], 2, "--ucf-split needs --video-root"),
                (["--data", hmdb, "--ucf-split", "1", "--hmdb-split", "1", "--video-root", root], 2, "give --ucf-split or --hmdb-split, not both"),
                (["--data", data, "--video-root", root], 2, "--video-root is for split files"),
                (["--source", data, "--target", Path.Combine(ucf, "classInd.txt"), "--ucf-split", "1"], 2, "--ucf-split needs --video-root"),
            })
            {
                var result = I3dProcess.Run(["experiment", args[0] == "--source" ? "transfer" : "architectures", .. args, "--out", Path.Combine(dir, "bad")]);
                Assert.True(result.ExitCode == exit, $"{string.Join(' ', args)}: exit {result.ExitCode}: {result.Stderr}");
                Assert.Contains(expected, Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            }
            Assert.False(Directory.Exists(Path.Combine(dir, "bad", "checkpoints")), "nothing was trained");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
