using System.Diagnostics;

namespace I3D.MLNet.Testing;

/// <summary>
/// Where the shared test data is: <c>../shared</c> beside the repository (never copied into it). Tests that need it call
/// <see cref="Require"/>, which skips them with a clear message when it is absent (a fresh clone still passes).
/// </summary>
internal static class SharedData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Videos => Path.Combine(Root, "data", "videos");

    public static string Labels => Path.Combine(Root, "data", "labels");

    public static string Fixtures => Path.Combine(Root, "fixtures");

    public static bool Available => Directory.Exists(Videos);

    /// <summary>Skips the calling test when ../shared is absent.</summary>
    public static string Require(string relative = "")
    {
        string path = Path.Combine(Root, relative);
        Skip.IfNot(File.Exists(path) || Directory.Exists(path), $"needs {path} (the shared test data beside the repository); absent here");
        return path;
    }

    public static string Video(string name) => Require(Path.Combine("data", "videos", name));

    /// <summary>Skips the calling test when a command-line tool (ffmpeg, /usr/bin/python3 ...) is missing.</summary>
    public static string RequireTool(string tool)
    {
        string? found = tool.Contains('/') ? (File.Exists(tool) ? tool : null)
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
        Skip.If(found == null, $"needs the '{tool}' command (bash scripts/install-deps.sh installs it); absent here");
        return found!;
    }

    /// <summary>Runs a process to completion with a time limit; returns stdout, throws with stderr on failure.</summary>
    public static string Run(string file, IEnumerable<string> args, TimeSpan? timeout = null, IDictionary<string, string>? environment = null, bool binaryStdout = false, Stream? stdoutSink = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (environment != null) foreach (var (k, v) in environment) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = "";
        if (stdoutSink != null) process.StandardOutput.BaseStream.CopyTo(stdoutSink);
        else stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}");
        LastStderr = stderr.Result;
        return stdout;
    }

    public static string LastStderr { get; private set; } = "";

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "I3D.MLNet.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no I3D.MLNet.sln above {AppContext.BaseDirectory}");
    }
}
