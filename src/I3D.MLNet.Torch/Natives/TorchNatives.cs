using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace I3D.MLNet.Torch.Natives;

/// <summary>
/// Makes TorchSharp's native wrapper load in any application built from the packages, on Debian 12 too.
/// libLibTorchSharp.so (TorchSharp 0.107) needs GLIBCXX_3.4.32, which Debian 12's libstdc++ lacks; TorchSharp then says
/// only that the package "doesn't contain a reference to libtorch-cpu-linux-x64". This repository patches the copy in
/// its own build outputs (build/BuildTools); an application built from the packages gets the unpatched copy. So, before
/// TorchSharp's first native call, the wrapper is loaded here: as it is where it loads, else a copy with the newer
/// GLIBCXX needs made weak (<see cref="ElfVersionNeeds"/>; the one symbol that needs them is never called) in a cache
/// folder beside links to the libraries it finds through <c>$ORIGIN</c> (its own folder's, or in a notebook's NuGet cache
/// the libtorch package's). TorchSharp's DllImports of the wrapper resolve to that handle. What cannot load is one line
/// (<see cref="Ensure"/>) naming the library and the fix.
/// </summary>
internal static class TorchNatives
{
    private const string Wrapper = "LibTorchSharp";
    private const string WrapperFile = "libLibTorchSharp.so";

    private static readonly Lazy<(IntPtr Handle, string? Problem)> loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

#pragma warning disable CA2255 // The resolver must be in place before TorchSharp's first P/Invoke, which may come from any of our types.
    [ModuleInitializer]
    internal static void Register()
#pragma warning restore CA2255
    {
        if (!OperatingSystem.IsLinux()) return;
        HugePageAllocation.Enable();
        AtenCpuCapability.Select();
        try { NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly, Resolve); }
        catch (InvalidOperationException) { } // another resolver was set first (the application's own): it decides
    }

    /// <summary>Throws <see cref="NativeDependencyException"/> with what to do when TorchSharp's native wrapper cannot load.</summary>
    public static void Ensure()
    {
        if (OperatingSystem.IsLinux() && loaded.Value.Problem is { } problem) throw new NativeDependencyException(problem);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
        => name is Wrapper or WrapperFile ? loaded.Value.Handle : IntPtr.Zero;

    private static (IntPtr, string?) Load()
    {
        string? path = Candidates().FirstOrDefault(File.Exists);
        if (path is null)
            return (IntPtr.Zero, $"TorchSharp's native wrapper {WrapperFile} is not beside the application ({AppContext.BaseDirectory}): add the package TorchSharp-cpu {TorchSharpVersion} (or a CUDA build of TorchSharp) to the application project");
        string error;
        try { return (NativeLibrary.Load(path), null); }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException) { error = e.Message; }
        string? missing = NativeDependencies.MissingSharedObject(error);
        string? libtorch = null;
        if (missing is not null && missing.StartsWith("libtorch", StringComparison.Ordinal) || missing is "libc10.so")
        {
            // A notebook's #r "nuget: ...": the wrapper and libtorch are in two packages of the NuGet cache.
            libtorch = LibTorchPackageDirectory();
            if (libtorch is null)
                return (IntPtr.Zero, $"TorchSharp's native wrapper {path} cannot load: {missing} (libtorch) is missing: add the package TorchSharp-cpu {TorchSharpVersion} (or a CUDA build of TorchSharp) to the application project");
        }
        else if (!error.Contains("GLIBCXX_", StringComparison.Ordinal))
            return (IntPtr.Zero, $"TorchSharp's native wrapper {path} cannot load: {(missing is null ? LoaderLine(error) : $"{missing} is missing")}");
        string? copy = null;
        try
        {
            copy = LinkedCopy(path, libtorch ?? Path.GetDirectoryName(path)!);
            return (NativeLibrary.Load(copy), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or InvalidDataException)
        {
            return (IntPtr.Zero, $"TorchSharp's native wrapper {path} cannot load ({LoaderLine(error)}), and a copy without its GLIBCXX_3.4.32 need beside libtorch "
                + $"{(copy is null ? "could not be written" : $"({copy}) did not load")}: {LoaderLine(e.Message)}. Set I3D_CACHE_DIR to a writable folder, or install a libstdc++ with GLIBCXX_3.4.32 (GCC 13)");
        }
    }

    /// <summary>libtorch's natives in the NuGet cache beside the TorchSharp package (packages/libtorch-cpu-linux-x64/VERSION/runtimes/linux-x64/native), newest first.</summary>
    private static string? LibTorchPackageDirectory()
    {
        if (TorchSharpDirectory is not { } torchDir) return null;
        string packages = Path.GetFullPath(Path.Combine(torchDir, "..", "..", "..", ".."));
        return new[] { "libtorch-cpu-linux-x64", "libtorch-cuda-12.8-linux-x64", "libtorch-cuda-13.0-linux-x64" }
            .Select(id => Path.Combine(packages, id))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateDirectories)
            .OrderByDescending(d => Version.TryParse(Path.GetFileName(d), out var v) ? v : new Version())
            .Select(d => Path.Combine(d, "runtimes", "linux-x64", "native"))
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch.so")));
    }

    /// <summary>Where the wrapper may be: the application's folder and native folders (deps.json's), beside TorchSharp.dll,
    /// and the TorchSharp package's own runtimes folder (a notebook's NuGet cache).</summary>
    private static IEnumerable<string> Candidates()
    {
        var dirs = new List<string> { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native") };
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        if (TorchSharpDirectory is { } torchDir)
        {
            dirs.Add(torchDir);
            dirs.Add(Path.Combine(torchDir, "..", "..", "runtimes", "linux-x64", "native"));
        }
        return dirs.Select(d => Path.GetFullPath(Path.Combine(d, WrapperFile))).Distinct();
    }

    /// <summary>The folder TorchSharp.dll was loaded from (the application's, or its NuGet package's lib folder), or null.</summary>
    private static string? TorchSharpDirectory => Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) is { Length: > 0 } dir ? dir : null;

    private static string TorchSharpVersion => typeof(TorchSharp.torch).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "";

    /// <summary>The line of a loader message that says what failed (dlerror's, after .NET's advice).</summary>
    private static string LoaderLine(string message)
        => message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.Contains(".so", StringComparison.Ordinal)) ?? message.Trim();

    /// <summary>
    /// A copy of the wrapper with its GLIBCXX needs above Debian 12's made weak (harmless where the system has them), in a
    /// folder named by its content, with links to the shared libraries of <paramref name="libraries"/> (its RUNPATH is
    /// <c>$ORIGIN</c>: libtorch.so, libc10.so, ...). Written once per wrapper and folder; a half-written one is replaced.
    /// </summary>
    private static string LinkedCopy(string path, string libraries)
    {
        // Named by the wrapper's content and the folder its links point into (two applications, two folders).
        byte[] content = File.ReadAllBytes(path);
        string hash = Convert.ToHexString(SHA256.HashData([.. content, .. System.Text.Encoding.UTF8.GetBytes(libraries)]))[..16];
        // The project's cache folder (I3D_CACHE_DIR, else $XDG_CACHE_HOME/i3d-mlnet, else ~/.cache/i3d-mlnet), as the convolution check's.
        string root = Path.Combine(Numerics.ConvolutionCheck.DefaultCacheDirectory() ?? Path.GetTempPath(), "natives");
        string dir = Path.Combine(root, $"torchsharp-{hash}");
        string copy = Path.Combine(dir, WrapperFile);
        string done = Path.Combine(dir, ".complete");
        if (File.Exists(done) && File.Exists(copy)) return copy;
        string staging = $"{dir}.{Environment.ProcessId}.tmp";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(staging);
        File.WriteAllBytes(Path.Combine(staging, WrapperFile), content);
        ElfVersionNeeds.WeakenNewerThan(Path.Combine(staging, WrapperFile), "GLIBCXX_", ElfVersionNeeds.Debian12Glibcxx);
        foreach (var library in Directory.EnumerateFiles(libraries, "*.so*"))
            if (Path.GetFileName(library) != WrapperFile)
                File.CreateSymbolicLink(Path.Combine(staging, Path.GetFileName(library)), library);
        File.WriteAllText(Path.Combine(staging, ".complete"), libraries);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        try { Directory.Move(staging, dir); }
        catch (IOException) when (File.Exists(done)) { Directory.Delete(staging, recursive: true); } // another process won
        return copy;
    }
}
