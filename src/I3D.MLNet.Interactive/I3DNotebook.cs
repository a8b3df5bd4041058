using System.Runtime.InteropServices;
using I3D.MLNet.Interactive.Pictures;
using I3D.MLNet.Interactive.Plots;
using I3D.MLNet.Interactive.Tables;
using I3D.MLNet.Video;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.ML.Data;

namespace I3D.MLNet.Interactive;

/// <summary>
/// Set-up for .NET Interactive notebooks: call <see cref="Initialize"/> once, right after the <c>#r</c> of this
/// assembly. It makes the native libraries beside this assembly loadable from the notebook process, checks that
/// OpenCV loads (one clear line naming the missing package if not), and registers the formatters: videos, clips and
/// flow show as image strips, <see cref="Picture"/>s and <see cref="SvgPicture"/>s as images, <see cref="ClassificationReport"/> as tables,
/// confusion matrices and training histories as plots.
/// </summary>
public static class I3DNotebook
{
    private static int _initialized;

    // What the managed packages DllImport by name: TorchSharp, OpenCvSharp, ONNX Runtime, SkiaSharp (ScottPlot).
    private static readonly string[] PreloadedNatives = ["LibTorchSharp", "OpenCvSharpExtern", "onnxruntime", "SkiaSharp", "HarfBuzzSharp"];

    /// <summary>The folder this assembly and its dependencies (natives included) were loaded from.</summary>
    public static string LibraryDirectory { get; } = Path.GetDirectoryName(typeof(I3DNotebook).Assembly.Location)!;

    /// <summary>The repository (the folder with I3D.MLNet.sln) the library was built in, or null.</summary>
    public static string? RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The shared data folder (<c>../shared</c> beside the repository) when it is there, else null.</summary>
    public static string? SharedData =>
        RepositoryRoot is { } root && Directory.Exists(Path.Combine(root, "..", "shared", "data")) ? Path.GetFullPath(Path.Combine(root, "..", "shared")) : null;

    /// <summary>Loads the native libraries beside this assembly (the GLIBCXX-patched TorchSharp wrapper first) and registers the notebook formatters; says in one line which native library is missing and how to install it. Call once, in the first cell.</summary>
    public static void Initialize()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1) return;
        // The notebook host is not our application: DllImport does not look beside #r-loaded assemblies (and in
        // dotnet-repl a ResolvingUnmanagedDll handler was not asked either). The natives there are loaded by full path
        // first; a later DllImport by name finds the loaded library. TorchSharp's wrapper as built here has its
        // GLIBCXX_3.4.32 need made weak (Debian 12): loading it first also keeps any other copy (e.g. the NuGet
        // cache's) from being picked.
        if (OperatingSystem.IsLinux())
            foreach (var name in PreloadedNatives)
            {
                string path = Path.Combine(LibraryDirectory, $"lib{name}.so");
                if (File.Exists(path)) NativeLibrary.Load(path);
            }
        // From #r "nuget: ...": nothing is beside this assembly; TorchSharp's wrapper is loaded from the NuGet cache with
        // libtorch's package linked beside it (and its GLIBCXX need made weak where the system lacks it).
        I3D.MLNet.Torch.Natives.TorchNatives.Ensure();
        NativeDependencies.EnsureOpenCv();
        RegisterFormatters();
    }

    /// <summary>A fresh, empty working folder for a notebook's files (under the temp directory).</summary>
    public static string WorkDirectory(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-notebooks", name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static void RegisterFormatters()
    {
        Register<PngPicture>(PngPicture.Mime, p => p);
        Register<GifPicture>(GifPicture.Mime, p => p);
        Register<VideoFrames>(PngPicture.Mime, v => ClipPicture.Strip(v));
        Register<Clip>(PngPicture.Mime, c => ClipPicture.Strip(c));
        Register<TrainingHistory>(PngPicture.Mime, h => h.Plot());
        Register<ConfusionMatrix>(PngPicture.Mime, m => Charts.ConfusionMatrix(m));
        Formatter.Register<SvgPicture>((svg, writer) => writer.Write(svg.Svg), SvgPicture.Mime); // as text, as Jupyter keeps SVG
        Formatter.SetPreferredMimeTypesFor(typeof(SvgPicture), SvgPicture.Mime);
        RegisterHtml<ClassificationReport>(r => r.ToHtml());
        RegisterHtml<HtmlTable>(t => t.ToHtml());
    }

    // Jupyter carries image outputs as base64 text under their mime type.
    private static void Register<T>(string mime, Func<T, Picture> picture)
    {
        Formatter.Register<T>((value, writer) => writer.Write(Convert.ToBase64String(picture(value).Bytes)), mime);
        Formatter.SetPreferredMimeTypesFor(typeof(T), mime);
    }

    private static void RegisterHtml<T>(Func<T, string> html)
    {
        Formatter.Register<T>((value, writer) => writer.Write(html(value)), HtmlFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(T), HtmlFormatter.MimeType);
    }

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(LibraryDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "I3D.MLNet.sln"))) return dir.FullName;
        return null;
    }
}
