// ML.NET 5.0.1 keeps its model-zip plumbing (ModelSaveContext, ModelLoadContext, LoadableClass, the base
// transformer constructors) internal. We compile against publicized copies of Microsoft.ML.Core/Data
// (Directory.Build.targets) and this attribute tells the runtime to accept those calls.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices
{
    /// <summary>Read by the runtime (not the compiler): the named assembly's non-public members may be used.</summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute : Attribute
    {
        public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

        public string AssemblyName { get; }
    }
}
