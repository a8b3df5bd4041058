using System.CommandLine;

namespace I3D.MLNet.Cli.Tests;

/// <summary><c>i3d synth</c>: <c>--families</c> and <c>--transfer</c> write the class-family benchmark.</summary>
public sealed class SynthCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-cli-synth").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static (int ExitCode, string Err) Run(params string[] args)
    {
        var error = new StringWriter();
        int rc = CliApp.Run(args, new InvocationConfiguration { Output = new StringWriter(), Error = error });
        return (rc, error.ToString());
    }

    private static string[] Folders(string path) => [.. Directory.GetDirectories(path).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal)];

    [Fact]
    public void FamiliesWriteExactlyTheirClassFolders()
    {
        string output = Path.Combine(dir, "bench");
        var (rc, err) = Run("synth", "--out", output, "--families", "appearance,order", "--per-class", "1", "--test-per-class", "1", "--video-frames", "8", "--frame-size", "48");
        Assert.True(rc == 0, err);
        string[] expected = ["appear", "grow", "shrink", "still_cross", "still_disc", "still_square", "vanish"];
        foreach (var split in new[] { "train", "test" })
        {
            Assert.Equal(expected, Folders(Path.Combine(output, split)));
            Assert.All(expected, c => Assert.Single(Directory.GetFiles(Path.Combine(output, split, c), "*.avi")));
        }

        string transfer = Path.Combine(dir, "transfer");
        (rc, err) = Run("synth", "--out", transfer, "--transfer", "--per-class", "1", "--test-per-class", "0", "--video-frames", "4", "--frame-size", "32");
        Assert.True(rc == 0, err);
        Assert.Equal(["move_down_right", "move_up_left", "turn_anticlockwise", "turn_clockwise"], Folders(Path.Combine(transfer, "train")));
    }

    [Fact]
    public void BadFamilyListsAndMixedOptionsAreUsageErrors()
    {
        foreach (var args in new[]
        {
            new[] { "--families", "appearance,colour" },
            ["--families", ","],
            ["--families", "order", "--transfer"],
            ["--families", "order", "--classes", "4"],
        })
        {
            var (rc, err) = Run(["synth", "--out", Path.Combine(dir, "x"), .. args]);
            Assert.Equal(CliApp.UsageError, rc);
            Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        Assert.False(Directory.Exists(Path.Combine(dir, "x")));
    }
}
