using System.Runtime.InteropServices;

namespace I3D.MLNet;

/// <summary>
/// Turns a missing native library into one clear line that says what to install, instead of a
/// DllNotFoundException stack trace deep inside a cursor.
/// </summary>
public static class NativeDependencies
{
    /// <summary>The command that installs everything the native parts need on Debian/Ubuntu.</summary>
    public const string InstallHint = "sudo apt-get install -y libgtk-3-0 ffmpeg   (or: bash scripts/install-deps.sh)";

    private static readonly Lazy<string?> OpenCvProblem = new(ProbeOpenCv);

    /// <summary>Throws <see cref="NativeDependencyException"/> when OpenCV (video decoding) cannot load.</summary>
    public static void EnsureOpenCv()
    {
        if (OpenCvProblem.Value is { } problem) throw new NativeDependencyException(problem);
    }

    private static string? ProbeOpenCv()
    {
        // OpenCV and its FFmpeg print warnings for every file they cannot open; our exceptions say it once, clearly.
        // Set natively (getenv sees it) before OpenCV's first call, unless the user chose a level.
        QuietUnlessSet("OPENCV_LOG_LEVEL", "ERROR");
        QuietUnlessSet("OPENCV_FFMPEG_LOGLEVEL", "-8");
        try
        {
            _ = OpenCvSharp.Cv2.GetVersionString();
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
        {
            string detail = Innermost(e).Message;
            string? missing = MissingSharedObject(detail);
            return missing != null
                ? $"OpenCV cannot load: {missing} is missing. Install it with: {InstallHint}"
                : $"OpenCV cannot load ({FirstLine(detail)}). Install its dependencies with: {InstallHint}";
        }
    }

    private static void QuietUnlessSet(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) != null || !OperatingSystem.IsLinux()) return;
        Environment.SetEnvironmentVariable(name, value);
        _ = setenv(name, value, 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi, SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);

    internal static string? MissingSharedObject(string message)
    {
        // "libgtk-3.so.0: cannot open shared object file: No such file or directory"
        var match = System.Text.RegularExpressions.Regex.Match(message, @"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file");
        return match.Success ? match.Groups[1].Value : null;
    }

    internal static Exception Innermost(Exception e)
    {
        while (e.InnerException != null) e = e.InnerException;
        return e;
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();

    /// <summary>True on Linux x64, the one platform whose native packages we reference.</summary>
    public static bool IsSupportedPlatform => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;
}

/// <summary>A native library the library needs is not installed; the message says how to install it.</summary>
public sealed class NativeDependencyException(string message) : Exception(message);
