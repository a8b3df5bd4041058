using System.Text.Json;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;

namespace I3D.MLNet.Cli.Tests;

/// <summary>
/// <c>i3d experiment transfer</c> in fresh processes: Table 4's three columns per stream from a source folder and from
/// a weights file, every cell cached so a run resumes to the same table, and bad inputs as one line naming the path.
/// </summary>
public sealed class TransferCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-cli-transfer").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private (string Source, string Target) Data()
    {
        string source = Path.Combine(dir, "source"), target = Path.Combine(dir, "target");
        I3dProcess.Ok("synth", "--out", source, "--families", "appearance,direction", "--per-class", "2", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "48", "--seed", "3");
        I3dProcess.Ok("synth", "--out", target, "--transfer", "--per-class", "3", "--test-per-class", "1", "--video-frames", "12", "--frame-size", "48", "--seed", "4");
        return (source, target);
    }

    /// <summary>The command on tiny settings: I3D, 8 x 32 x 32 clips, one epoch, one thread, 2 target videos per class (unless <paramref name="more"/> says otherwise).</summary>
    private static string[] Transfer(string target, string report, params string[] more) =>
        ["experiment", "transfer", "--target", target, "--out", report, "--epochs", "1", "--crop-size", "32", "--clip-frames", "8", "--batch-size", "4", "--threads", "1",
            .. more.Contains("--architectures") ? [] : new[] { "--architectures", "i3d" }, .. more.Contains("--target-per-class") ? [] : new[] { "--target-per-class", "2" }, .. more];

    private static List<(string Streams, string Mode, double Accuracy, int Classes)> Results(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.GetProperty("results").EnumerateArray().Select(r => (r.GetProperty("streams").GetString()!, r.GetProperty("mode").GetString()!,
            r.GetProperty("accuracy").GetDouble(), r.GetProperty("perClass").EnumerateObject().Count()))];
    }

    [Fact]
    public void FromASourceFolderAndFromItsWeightsWritesTable4AndResumesFromItsCells()
    {
        var (source, target) = Data();
        string report = Path.Combine(dir, "report");
        string[] args = Transfer(target, report, "--source", source, "--json");
        var first = I3dProcess.Ok(args);
        var results = Results(first.Stdout);
        string[] modes = ["original", "fixed", "full-ft"];
        Assert.Equal(modes.SelectMany(m => new[] { ("rgb", m), ("flow", m), ("rgb+flow", m) }), results.Select(r => (r.Streams, r.Mode)));
        Assert.All(results, r => Assert.InRange(r.Accuracy, 0, 1));
        Assert.All(results, r => Assert.Equal(4, r.Classes)); // the transfer family's four classes
        using (var json = JsonDocument.Parse(first.Stdout))
        {
            var pretrained = json.RootElement.GetProperty("source").EnumerateArray().ToList();
            Assert.Equal(["rgb", "flow", "rgb+flow"], pretrained.Select(s => s.GetProperty("streams").GetString()));
            Assert.All(pretrained, s => Assert.Equal(7, s.GetProperty("perClass").EnumerateObject().Count()));
        }
        Assert.Contains("InceptionI3d Original: Both clips of 8 frames (1 of every 1) at 32 x 32, 8 training videos, 1 epochs, Scratch start", first.Stderr); // 2 per class
        Assert.Contains("InceptionI3d Fixed: Both clips of 8 frames (1 of every 1) at 32 x 32, 8 training videos, 1 epochs, Checkpoint start, only the classifier trained", first.Stderr);
        Assert.Contains("InceptionI3d source: Both clips of 8 frames (1 of every 1) at 32 x 32, 14 training videos", first.Stderr);
        string markdown = File.ReadAllText(Path.Combine(report, "transfer.md"));
        Assert.Contains("| architecture | streams | Original | Fixed | Full-FT |", markdown);
        Assert.Contains("| InceptionI3d | RGB + Flow |", markdown);
        Assert.Contains("4 target classes (chance 25.0)", markdown);
        Assert.Equal(first.Stdout, File.ReadAllText(Path.Combine(report, "transfer.json")) + Environment.NewLine);
        string svg = File.ReadAllText(Path.Combine(report, "transfer.svg"));
        Assert.StartsWith("<svg", svg);
        Assert.Contains("InceptionI3d RGB + Flow Full-FT", svg);

        // Again: every cell from the cache. Without the Fixed cell (as after a kill): that one trained again, to the same table.
        var second = I3dProcess.Ok(args);
        foreach (var cell in new[] { "source", "Original", "Fixed", "Full-FT" }) Assert.Contains($"InceptionI3d {cell}: cached", second.Stderr);
        Assert.Equal(first.Stdout, second.Stdout);
        File.Delete(Path.Combine(report, "cells", "i3d-fixed.json"));
        var third = I3dProcess.Ok(args);
        Assert.DoesNotContain("InceptionI3d Fixed: cached", third.Stderr);
        Assert.Contains("InceptionI3d Full-FT: cached", third.Stderr);
        Assert.Equal(first.Stdout, third.Stdout);

        // The source model's RGB weights as a weights --source: only the RGB stream, and its Fixed and Full-FT cells are
        // the folder run's (the same start, the same seeds, one thread).
        string rgb = Path.Combine(report, "source-weights", "i3d-rgb.pt");
        Assert.True(File.Exists(rgb), "the source weights are kept in the report folder");
        var fromFile = I3dProcess.Ok(Transfer(target, Path.Combine(dir, "report-weights"), "--source", rgb, "--json"));
        var fileResults = Results(fromFile.Stdout);
        Assert.Equal(modes.Select(m => ("rgb", m)), fileResults.Select(r => (r.Streams, r.Mode)));
        foreach (var mode in new[] { "fixed", "full-ft" })
            Assert.Equal(results.Single(r => r.Streams == "rgb" && r.Mode == mode).Accuracy, fileResults.Single(r => r.Mode == mode).Accuracy);
        Assert.Contains($"source: {rgb} (RGB).", File.ReadAllText(Path.Combine(dir, "report-weights", "transfer.md")));
    }

    [Fact]
    public void BadInputsAreOneLineNamingThePath()
    {
        var (source, target) = Data();
        string report = Path.Combine(dir, "bad-report"), missing = Path.Combine(dir, "missing");
        string text = Path.Combine(dir, "notes.txt");
        File.WriteAllText(text, "not weights");
        string flow = Path.Combine(dir, "flow.pt");
        using (var net = new InceptionI3d(numClasses: 4, inChannels: 2)) ModuleWeights.Save(net, flow);
        string empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName;

        foreach (var (args, expected) in new (string[], string)[]
        {
            (Transfer(missing, report, "--source", source), $"{missing}: needs train/<class>/ and test/<class>/ folders"),
            (Transfer(target, report, "--source", missing), $"{missing}: no such folder or weights file"),
            (Transfer(target, report, "--source", empty), $"{empty}: needs train/<class>/ and test/<class>/ folders"),
            (Transfer(target, report, "--source", text), $"{text}: not a PyTorch weight file"),
            (Transfer(target, report, "--source", flow, "--source", flow), $"{flow}: {flow} is flow weights too"),
            (Transfer(target, report, "--source", flow, "--architectures", "lstm"), $"{flow}: weights files start InceptionI3d"),
            (Transfer(target, report, "--source", source, "--target-per-class", "0"), "0 training videos per class: at least one is needed"),
        })
        {
            var result = I3dProcess.Run(args);
            Assert.True(result.ExitCode == 1, $"i3d {string.Join(' ', args)}: exit {result.ExitCode}: {result.Stderr}");
            string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("i3d: ", line);
            Assert.Contains(expected, line);
            Assert.Equal("", result.Stdout);
        }
        Assert.False(Directory.Exists(Path.Combine(report, "checkpoints")), "nothing was trained");
    }
}
