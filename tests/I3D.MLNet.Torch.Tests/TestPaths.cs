using System.Reflection;
using I3D.MLNet.IO;
using static TorchSharp.torch;

namespace I3D.MLNet.Tests.Shared;

internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared/fixtures/pytorch-i3d next to the repository (absent on most machines).</summary>
    public static string SharedFixtures => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures", "pytorch-i3d"));

    /// <summary>ResNet18.onnx of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (restored with the tests).</summary>
    // Read when asked for: the CLI tests compile this file too, without that metadata (a static initialiser failed them all).
    public static string ResNet18Onnx =>
        typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == "ResNet18Onnx")?.Value
        ?? throw new InvalidOperationException($"{typeof(TestPaths).Assembly.GetName().Name} has no ResNet18Onnx assembly metadata (see I3D.MLNet.Torch.Tests.csproj)");

    public static void SkipUnlessResNet18Onnx() =>
        Skip.IfNot(File.Exists(ResNet18Onnx), $"{ResNet18Onnx} absent (NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 not restored)");

    public static void SkipUnlessSharedFixtures() =>
        Skip.IfNot(File.Exists(Path.Combine(SharedFixtures, "rgb_random.pt")), $"the known-answer fixture {SharedFixtures} is absent");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "I3D.MLNet.sln"))) return dir.FullName;
        throw new InvalidOperationException("I3D.MLNet.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>||a - b|| / ||b||.</summary>
    public static double RelativeL2(Tensor actual, Tensor expected)
    {
        using var a = actual.to(ScalarType.Float64).cpu();
        using var b = expected.to(ScalarType.Float64).cpu();
        using var diff = (a - b).norm();
        using var norm = b.norm();
        return diff.item<double>() / norm.item<double>();
    }

    public static Tensor Load(string npyPath)
    {
        var a = Npy.Read(npyPath);
        return tensor(a.Data, [.. a.Shape.Select(d => (long)d)]);
    }
}
