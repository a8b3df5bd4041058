namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>The test assembly's entry point: only the model-file fuzzing's child process (<see cref="ModelFileFuzz.RunChild"/>) uses it;
/// the test runner loads the assembly without calling it.</summary>
public static class FuzzChildProgram
{
    public static int Main(string[] args) => args.Length == 4 && args[0] == ModelFileFuzz.ChildFlag
        ? ModelFileFuzz.RunChild(args[1..])
        : throw new ArgumentException($"usage: dotnet I3D.MLNet.Torch.Tests.dll {ModelFileFuzz.ChildFlag} KIND DIR FIRST");
}
