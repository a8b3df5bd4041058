using System.Diagnostics;
using I3D.MLNet.Testing;

namespace I3D.MLNet.Package.Tests;

/// <summary>
/// The repository's packages (dotnet pack --no-build of the Release build) in a temporary feed, once per test run, under a
/// version of their own (so a package cache never serves an older build under the same number).
/// </summary>
public sealed class PackageFeed : IDisposable
{
    public PackageFeed()
    {
        Version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        Root = Directory.CreateTempSubdirectory("i3d-packages-").FullName;
        Feed = Path.Combine(Root, "feed");
        // The consumers' patched TorchSharp wrapper (Debian 12) goes here, not into the user's cache, and goes with the run.
        NativeCache = Path.Combine(Root, "cache");
        Environment.SetEnvironmentVariable("I3D_CACHE_DIR", NativeCache); // and the consumers' convolution verdicts
        var watch = Stopwatch.StartNew();
        Dotnet.Ok(SharedData.RepoRoot, "pack", Path.Combine(SharedData.RepoRoot, "I3D.MLNet.sln"), "-c", "Release", "--no-build", "-o", Feed, $"-p:Version={Version}");
        PackSeconds = watch.Elapsed.TotalSeconds;
        File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="i3d-test-feed" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
    }

    /// <summary>The packages' version in this run.</summary>
    public string Version { get; }

    /// <summary>A folder outside the repository: the feed, its nuget.config (the user's sources plus the feed), the consumers.</summary>
    public string Root { get; }

    /// <summary>Where the consumers write their patched TorchSharp wrapper, if this system's libstdc++ needs one.</summary>
    public string NativeCache { get; }

    /// <summary>The folder of .nupkg files.</summary>
    public string Feed { get; }

    /// <summary>How long the pack took.</summary>
    public double PackSeconds { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
        // The run's own packages left in the user's package cache (a version no other run uses).
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "i3d.mlnet", "i3d.mlnet.torch", "i3d.mlnet.interactive", "i3d.mlnet.cli" })
        {
            string dir = Path.Combine(cache, id, Version.ToLowerInvariant());
            try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>Runs <c>dotnet</c> (or another command) in a folder and returns its output; a non-zero exit fails the test with it.</summary>
internal static class Dotnet
{
    public sealed record Result(int ExitCode, string Output, double Seconds);

    public static Result Run(string directory, string command, params string[] args)
    {
        var info = new ProcessStartInfo(command) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        // The repository's build properties must not reach the consumers (they live outside it anyway).
        info.Environment.Remove("MSBuildExtensionsPath");
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} {string.Join(' ', args)} did not finish in 15 minutes");
        }
        return new Result(process.ExitCode, stdout + stderr.Result, watch.Elapsed.TotalSeconds);
    }

    public static Result Ok(string directory, params string[] args) => OkCommand(directory, "dotnet", args);

    public static Result OkCommand(string directory, string command, params string[] args)
    {
        var result = Run(directory, command, args);
        Assert.True(result.ExitCode == 0, $"{command} {string.Join(' ', args)} (in {directory}) exited {result.ExitCode}:\n{Tail(result.Output)}");
        return result;
    }

    public static string Tail(string text, int lines = 40) => string.Join('\n', text.Split('\n').TakeLast(lines));
}
