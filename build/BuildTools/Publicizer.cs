using Mono.Cecil;

namespace BuildTools;

/// <summary>Writes a reference-only copy of an assembly whose types, methods and fields are all public.</summary>
internal static class Publicizer
{
    public static void Publicize(string input, string output)
    {
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(input))!);
        using var assembly = AssemblyDefinition.ReadAssembly(input, new ReaderParameters { AssemblyResolver = resolver });
        foreach (var type in assembly.MainModule.GetTypes())
        {
            if (type.Name.StartsWith('<')) continue; // compiler-generated
            if (type.IsNested) type.IsNestedPublic = true; else type.IsPublic = true;

            var eventNames = new HashSet<string>(type.Events.Select(e => e.Name));
            foreach (var method in type.Methods)
            {
                if (method.Name.StartsWith('<')) continue;
                // private protected / protected internal become protected, so overrides keep C#'s "protected override".
                if (method.IsFamilyAndAssembly || method.IsFamilyOrAssembly) method.IsFamily = true;
                else if (!method.IsFamily) method.IsPublic = true;
            }
            foreach (var field in type.Fields)
            {
                // A public field beside an event or property of the same name would make C# lookups ambiguous.
                if (field.Name.StartsWith('<') || eventNames.Contains(field.Name)) continue;
                if (type.Properties.Any(p => p.Name == field.Name)) continue;
                if (field.IsFamilyAndAssembly || field.IsFamilyOrAssembly) field.IsFamily = true;
                else if (!field.IsFamily) field.IsPublic = true;
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        string tmp = output + ".tmp";
        assembly.Write(tmp);
        File.Move(tmp, output, overwrite: true);
    }
}
