using System.Diagnostics;
using System.Text.Json;
using I3D.MLNet.Testing;

namespace I3D.MLNet.Interactive.Tests;

/// <summary>
/// Runs every notebook in notebooks/ headless with dotnet-repl (what a reader gets from "Run All") and checks that no
/// cell failed and that the notebook shows at least one picture. The executed copies are kept in
/// artifacts/notebooks/ for looking at. Skips with a message where dotnet-repl is not installed
/// (scripts/install-deps.sh installs it into .tools/).
/// </summary>
public class NotebookTests
{
    private static readonly string Notebooks = Path.Combine(SharedData.RepoRoot, "notebooks");

    private static string[] Names() => [.. Directory.GetFiles(Notebooks, "*.ipynb").Select(Path.GetFileName).Order()!];

    public static TheoryData<string> All() => new(Names());

    [Fact]
    public void TheFiveNotebooksAreThere() =>
        Assert.Equal(["01-predict.ipynb", "02-optical-flow.ipynb", "03-fine-tune.ipynb", "04-onnx-scoring.ipynb", "05-paper-experiments.ipynb"], Names());

    [SkippableTheory]
    [MemberData(nameof(All))]
    public void NotebookRunsAndShowsPictures(string name)
    {
        string repl = FindDotnetRepl();
        string outputDir = Path.Combine(SharedData.RepoRoot, "artifacts", "notebooks");
        Directory.CreateDirectory(outputDir);
        string executed = Path.Combine(outputDir, name);
        File.Delete(executed);
        var info = new ProcessStartInfo(repl) { WorkingDirectory = Notebooks, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--run", name, "--exit-after-run", "--output-path", executed }) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{name} did not finish in 10 minutes");
        }
        Assert.True(File.Exists(executed), $"{name}: dotnet-repl exited {process.ExitCode} without writing {executed}: {stderr.Result}{stdout.Result}");

        using var notebook = JsonDocument.Parse(File.ReadAllText(executed));
        var outputs = notebook.RootElement.GetProperty("cells").EnumerateArray()
            .Where(c => c.GetProperty("cell_type").GetString() == "code")
            .Select((c, i) => (Cell: i + 1, Outputs: c.GetProperty("outputs").EnumerateArray().ToList())).ToList();
        var errors = outputs.SelectMany(c => c.Outputs.Where(o => o.GetProperty("output_type").GetString() == "error")
            .Select(o => $"code cell {c.Cell}: {o.GetProperty("evalue").GetString()}")).ToList();
        Assert.True(errors.Count == 0, $"{name} ({executed}):\n{string.Join("\n", errors)}");
        Assert.True(process.ExitCode == 0, $"{name}: dotnet-repl exited {process.ExitCode} ({executed}): {stderr.Result}");
        int images = outputs.Sum(c => c.Outputs.Count(o => o.TryGetProperty("data", out var data)
            && data.EnumerateObject().Any(p => p.Name is "image/png" or "image/gif" or "image/svg+xml" && p.Value.ToString().Length > 100)));
        Assert.True(images >= 1, $"{name}: no image output in {executed}");
        Console.WriteLine($"{name}: {outputs.Count} code cells, {images} image outputs, {clock.Elapsed.TotalSeconds:0} s");
    }

    private static string FindDotnetRepl()
    {
        string? configured = Environment.GetEnvironmentVariable("I3D_DOTNET_REPL");
        string local = Path.Combine(SharedData.RepoRoot, ".tools", "dotnet-repl");
        string? onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "dotnet-repl")).FirstOrDefault(File.Exists);
        string? found = new[] { configured, local, onPath }.FirstOrDefault(p => p != null && File.Exists(p));
        Skip.If(found == null, "needs dotnet-repl to run the notebooks: bash scripts/install-deps.sh installs it into .tools/ "
            + "(or: dotnet tool install dotnet-repl --version 0.3.259 --tool-path .tools)");
        return found!;
    }
}
