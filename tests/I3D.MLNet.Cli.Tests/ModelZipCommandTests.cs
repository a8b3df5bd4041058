using System.CommandLine;
using I3D.MLNet.Testing;
using Microsoft.ML;

namespace I3D.MLNet.Cli.Tests;

/// <summary>A damaged model zip given to the command line tool is one line on stderr that names the zip (every command opens
/// zips through <c>ModelZipFile.Load</c>), never an internal error or a stack trace.</summary>
public sealed class ModelZipCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-cli-zips").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    [Fact]
    public void MutatedPipelineZipsAreOneLineNamingTheZip()
    {
        var ml = new MLContext(1);
        var paths = ml.Data.LoadFromEnumerable([new PathRow { Path = "v.mp4" }]);
        string original = Path.Combine(dir, "pipeline.zip"), video = Path.Combine(dir, "absent.mp4");
        ml.Model.Save(ml.Transforms.LoadVideo("Frames", nameof(PathRow.Path)).Append(ml.Transforms.SampleClips("Clip", "Frames")).Fit(paths), paths.Schema, original);
        var bytes = File.ReadAllBytes(original);
        for (int i = 0; i < 24; i++)
        {
            var mutator = new Mutator(i);
            string how, zip = Path.Combine(dir, $"mutated{i}.zip");
            File.WriteAllBytes(zip, i % 3 == 2 ? mutator.Mutate(bytes, out how) : mutator.MutateZipEntry(bytes, out how));
            var error = new StringWriter();
            int rc = CliApp.Run(["clips", video, "--pipeline", zip, "--out", Path.Combine(dir, "x.npy")], new InvocationConfiguration { Output = new StringWriter(), Error = error });
            string line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.True(rc == 1, $"{how}: exit {rc}: {line}");
            Assert.DoesNotContain("internal error", line);
            // A mutation that left the zip readable fails on the (absent) video instead, which names that.
            Assert.True(line.Contains(zip, StringComparison.Ordinal) || line.Contains(video, StringComparison.Ordinal), $"{how}: {line}");
        }
    }
}
