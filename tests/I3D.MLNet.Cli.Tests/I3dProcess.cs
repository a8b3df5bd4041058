using System.Diagnostics;

namespace I3D.MLNet.Cli.Tests;

/// <summary>Runs the built <c>i3d</c> command line tool in a new process, as a user would.</summary>
internal static class I3dProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "i3d.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Starts <c>i3d</c> with <paramref name="args"/>, its output and error redirected (the caller reads and
    /// disposes), in <paramref name="workingDirectory"/> where one is given.</summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory ?? "" };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        return Process.Start(info)!;
    }

    public static Result Run(params string[] args) => Run(args, null);

    /// <summary>As <see cref="Run(string[])"/>, with these environment variables set for the process, in
    /// <paramref name="workingDirectory"/> where one is given.</summary>
    public static Result Run(string[] args, IReadOnlyDictionary<string, string>? environment, string? workingDirectory = null)
    {
        using var process = Start(args, environment, workingDirectory);
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"i3d {string.Join(' ', args)} did not finish in 10 minutes");
        }
        return new Result(process.ExitCode, stdout, stderr.Result);
    }

    public static Result Ok(params string[] args)
    {
        var result = Run(args);
        Assert.True(result.ExitCode == 0, $"i3d {string.Join(' ', args)} exited {result.ExitCode}: {result.Stderr}");
        return result;
    }
}
