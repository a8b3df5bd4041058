using I3D.MLNet.Testing;
using Xunit.Abstractions;

namespace I3D.MLNet.Package.Tests;

/// <summary>
/// What a .NET user does with the packages, outside this repository and with no step of its build: an application that
/// restores them from a feed (their dependencies from the user's package sources), builds, trains, saves a model zip and
/// scores it in a fresh process; the same without TorchSharp's natives (one line saying what to add); the newest served
/// ONNX Runtime added beside them; the <c>i3d</c> tool installed from the feed.
/// </summary>
public sealed class ConsumerTests(PackageFeed feed, ITestOutputHelper log) : IClassFixture<PackageFeed>
{
    private string Consumer(string name, Func<string, string>? editProject = null)
    {
        string dir = Path.Combine(feed.Root, name);
        Directory.CreateDirectory(dir);
        string template = Path.Combine(AppContext.BaseDirectory, "Consumer");
        File.Copy(Path.Combine(template, "Program.cs"), Path.Combine(dir, "Program.cs"));
        string project = File.ReadAllText(Path.Combine(template, "consumer.csproj.in")).Replace("@VERSION@", feed.Version);
        File.WriteAllText(Path.Combine(dir, "consumer.csproj"), editProject is null ? project : editProject(project));
        return dir;
    }

    private static long Bytes(string dir) => new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    [Fact]
    public void AnApplicationRestoresBuildsTrainsSavesAndScoresInAFreshProcess()
    {
        log.WriteLine($"pack {feed.PackSeconds:0} s ({feed.Version})");
        string app = Consumer("app");
        var restore = Dotnet.Ok(app, "restore");
        var build = Dotnet.Ok(app, "build", "-c", "Release", "--no-restore");
        string bin = Path.Combine(app, "bin", "Release", "net10.0", "linux-x64");
        log.WriteLine($"consumer: restore {restore.Seconds:0} s, build {build.Seconds:0} s, bin {Bytes(bin) / 1e6:0} MB (RuntimeIdentifier linux-x64)");
        Assert.DoesNotContain(": warning ", build.Output);

        string data = Path.Combine(app, "data"), zip = Path.Combine(app, "model.zip");
        var train = Dotnet.Ok(app, Path.Combine(bin, "consumer.dll"), "train", data, zip);
        log.WriteLine(Dotnet.Tail(train.Output, 3));
        Assert.True(File.Exists(zip));
        var predict = Dotnet.Ok(app, Path.Combine(bin, "consumer.dll"), "predict", data, zip);
        log.WriteLine(Dotnet.Tail(predict.Output, 4));
        Assert.Contains("predicted 3 videos", predict.Output);
        bool patched = Directory.Exists(feed.NativeCache) && Directory.EnumerateFiles(feed.NativeCache, "libLibTorchSharp.so", SearchOption.AllDirectories).Any();
        log.WriteLine(patched ? $"TorchSharp's wrapper loaded from a copy without the GLIBCXX_3.4.32 need ({feed.NativeCache}): this libstdc++ lacks it"
            : "TorchSharp's wrapper loaded as it is (this libstdc++ has GLIBCXX_3.4.32)");

        // The newest ONNX Runtime the package source serves, added beside ours, restores (the packages ask for minimums).
        var added = Dotnet.Ok(app, "add", "package", "Microsoft.ML.OnnxRuntime");
        log.WriteLine(added.Output.Split('\n').FirstOrDefault(l => l.Contains("PackageReference", StringComparison.Ordinal))?.Trim() ?? Dotnet.Tail(added.Output, 2));
    }

    [Fact]
    public void WithoutTorchSharpsNativesTheErrorIsOneLineSayingWhatToAdd()
    {
        string app = Consumer("no-natives", p => string.Join('\n', p.Split('\n').Where(l => !l.Contains("TorchSharp-cpu", StringComparison.Ordinal))));
        Dotnet.Ok(app, "build", "-c", "Release");
        var run = Dotnet.Run(app, "dotnet", Path.Combine(app, "bin", "Release", "net10.0", "linux-x64", "consumer.dll"), "train", Path.Combine(app, "data"), Path.Combine(app, "m.zip"));
        string line = run.Output.Split('\n').First(l => l.Contains("NativeDependencyException", StringComparison.Ordinal));
        log.WriteLine(line);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("add the package TorchSharp-cpu 0.107.0", line);
        Assert.DoesNotContain("doesn't contain a reference", run.Output);
    }

    [SkippableFact]
    public void TheToolInstallsFromTheFeedAndRuns()
    {
        string video = SharedData.Require(Path.Combine("data", "videos", "abseiling_k400.mp4"));
        string tools = Path.Combine(feed.Root, "tools");
        var install = Dotnet.Ok(feed.Root, "tool", "install", "I3D.MLNet.Cli", "--version", feed.Version, "--add-source", feed.Feed, "--tool-path", tools);
        log.WriteLine($"tool install {install.Seconds:0} s, {Bytes(tools) / 1e6:0} MB");
        string i3d = Path.Combine(tools, "i3d");
        var version = Dotnet.OkCommand(feed.Root, i3d, "--version");
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Output.Trim());
        var info = Dotnet.OkCommand(feed.Root, i3d, "info", video);
        log.WriteLine(info.Output.Trim());
        Assert.Contains("25 fps", info.Output);
        // TorchSharp in the tool: a one-epoch training on a few tiny synthetic videos.
        string data = Path.Combine(feed.Root, "tool-data");
        Dotnet.OkCommand(feed.Root, i3d, "synth", "--out", data, "--families", "appearance", "--per-class", "2", "--test-per-class", "1", "--video-frames", "16", "--frame-size", "32");
        var train = Dotnet.OkCommand(feed.Root, i3d, "train", "--data", Path.Combine(data, "train"), "--out", Path.Combine(feed.Root, "tool.zip"), "--epochs", "1", "--clip-frames", "8", "--crop-size", "32", "--streams", "rgb");
        log.WriteLine(Dotnet.Tail(train.Output, 2));
        Assert.True(File.Exists(Path.Combine(feed.Root, "tool.zip")));
    }

    /// <summary>A notebook that loads the library with #r "nuget: ..." from the feed: TorchSharp (its wrapper and libtorch are
    /// two packages of the NuGet cache), OpenCV and ONNX Runtime natives all load.</summary>
    [SkippableFact]
    public void ANotebookLoadsTheLibraryFromTheFeed()
    {
        string repl = Path.Combine(SharedData.RepoRoot, ".tools", "dotnet-repl");
        Skip.IfNot(File.Exists(repl), $"{repl} absent (scripts/install-deps.sh installs it)");
        string dir = Path.Combine(feed.Root, "notebook");
        Directory.CreateDirectory(dir);
        static string Cell(params string[] lines) => "{\"cell_type\":\"code\",\"execution_count\":null,\"metadata\":{\"dotnet_interactive\":{\"language\":\"csharp\"},\"polyglot_notebook\":{\"kernelName\":\"csharp\"}},\"outputs\":[],\"source\":["
            + string.Join(",", lines.Select(l => System.Text.Json.JsonSerializer.Serialize(l + "\n"))) + "]}";
        string notebook = "{\"cells\":[" + string.Join(",",
            Cell($"#i \"nuget: {feed.Feed}\"", $"#r \"nuget: I3D.MLNet.Interactive, {feed.Version}\""),
            Cell("I3D.MLNet.Interactive.I3DNotebook.Initialize();"),
            Cell("var ones = TorchSharp.torch.ones(3); var sum = ones.sum().item<float>(); sum"),
            Cell("var options = new Microsoft.ML.OnnxRuntime.SessionOptions(); var opencv = OpenCvSharp.Cv2.GetVersionString(); opencv"))
            + "],\"metadata\":{\"kernelspec\":{\"display_name\":\".NET (C#)\",\"language\":\"C#\",\"name\":\".net-csharp\"},\"language_info\":{\"name\":\"csharp\"}},\"nbformat\":4,\"nbformat_minor\":5}";
        File.WriteAllText(Path.Combine(dir, "nuget.ipynb"), notebook);
        string output = Path.Combine(dir, "out.ipynb");
        var run = Dotnet.Run(dir, repl, "--run", "nuget.ipynb", "--exit-after-run", "--output-path", output);
        string executed = File.Exists(output) ? File.ReadAllText(output) : "";
        log.WriteLine($"notebook with #r \"nuget: I3D.MLNet.Interactive, {feed.Version}\": exit {run.ExitCode} in {run.Seconds:0} s");
        string errors = string.Join("\n", executed.Split('\n').Where(l => l.Contains("\"evalue\"", StringComparison.Ordinal) || l.Contains("\"text\"", StringComparison.Ordinal)).Select(l => l.Trim()));
        Assert.True(run.ExitCode == 0, $"dotnet-repl exited {run.ExitCode}:\n{Dotnet.Tail(run.Output, 10)}\n{errors}");
        Assert.DoesNotContain("\"output_type\": \"error\"", executed);
        Assert.Contains("<pre>3</pre>", executed);
        Assert.Contains("4.13", executed);
    }
}
