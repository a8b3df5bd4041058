using System.Diagnostics;
using System.Security.Cryptography;

namespace I3D.MLNet.Tests.Shared;

/// <summary>
/// Fixtures made at test time by fixtures/make_fixtures.py with Debian's python3-torch (/usr/bin/python3): weight
/// files are ~50 MB each, too big to commit. Cached in the temp folder under the script's hash. Tests skip with a
/// clear message where /usr/bin/python3 with torch is absent.
/// </summary>
internal static class PythonFixtures
{
    public const string Python = "/usr/bin/python3";

    public static string Script => Path.Combine(TestPaths.RepoRoot, "tests", "I3D.MLNet.Torch.Tests", "fixtures", "make_fixtures.py");

    private static readonly Lazy<(string? Dir, string? Why)> Made = new(Make, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The fixture folder; skips the calling test when the fixtures cannot be made here.</summary>
    public static string Dir
    {
        get
        {
            var (dir, why) = Made.Value;
            Skip.If(dir is null, why);
            return dir!;
        }
    }

    public static string PathOf(string name) => System.IO.Path.Combine(Dir, name);

    /// <summary>True when the fixture script managed to write the GoogLeNet case (needs python3-torchvision).</summary>
    public static bool HasGoogLeNet => File.ReadAllText(PathOf("MANIFEST")).Contains("googlenet", StringComparison.Ordinal);

    private static (string?, string?) Make()
    {
        if (!File.Exists(Python)) return (null, $"{Python} is absent: the python3-torch fixtures cannot be made");
        var (probe, _) = Run("-c \"import torch, numpy\"");
        if (probe != 0) return (null, $"{Python} has no torch/numpy (apt-get install python3-torch): the fixtures cannot be made");
        string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Script)))[..12];
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "i3d-mlnet-fixtures-" + hash);
        if (File.Exists(System.IO.Path.Combine(dir, "MANIFEST"))) return (dir, null);
        string tmp = dir + ".tmp" + Environment.ProcessId;
        var (rc, err) = Run($"\"{Script}\" make \"{tmp}\"");
        if (rc != 0) throw new InvalidOperationException($"make_fixtures.py failed ({rc}): {err}");
        try
        {
            Directory.Move(tmp, dir);
        }
        catch (IOException) when (File.Exists(System.IO.Path.Combine(dir, "MANIFEST")))
        {
            Directory.Delete(tmp, true); // another test process (e.g. the CLI tests) made them meanwhile
        }
        return (dir, null);
    }

    /// <summary>Runs /usr/bin/python3 with the arguments; returns the exit code and stderr.</summary>
    public static (int ExitCode, string StdErr) Run(string arguments)
    {
        var psi = new ProcessStartInfo(Python, arguments) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stderr.Result);
    }
}
