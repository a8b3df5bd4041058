// Build-time tools:
//   publicize IN.dll OUT.dll  - a compile-only copy of an assembly with every type and member public
//                               (ML.NET keeps its model-zip plumbing internal; see ../../README.md, "Model zips").
//   weaken-glibcxx LIB.so     - marks GLIBCXX_3.4.31+ version needs weak so libLibTorchSharp.so loads on Debian 12
//                               (its libstdc++ stops at GLIBCXX_3.4.30; see ../shared/notes/platform.md).
using BuildTools;
using I3D.MLNet.Torch.Natives;

if (args.Length == 3 && args[0] == "publicize")
{
    Publicizer.Publicize(args[1], args[2]);
    return 0;
}
if (args.Length >= 2 && args[0] == "weaken-glibcxx")
{
    foreach (var path in args.Skip(1))
    {
        int n = ElfVersionNeeds.WeakenNewerThan(path, "GLIBCXX_", ElfVersionNeeds.Debian12Glibcxx);
        Console.WriteLine($"weaken-glibcxx: {path}: {n} version need(s) marked weak");
    }
    return 0;
}
Console.Error.WriteLine("usage: BuildTools publicize IN.dll OUT.dll | weaken-glibcxx LIB.so...");
return 2;
