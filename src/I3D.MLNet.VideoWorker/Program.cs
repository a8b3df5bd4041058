using System.Reflection;
using System.Runtime.Loader;

// dotnet exec --runtimeconfig R --depsfile APP.deps.json I3D.MLNet.VideoWorker.dll [--probe DIR]
// DIR (where I3D.MLNet.dll is) serves the assemblies an application's deps.json does not list (a notebook's).
if (args is ["--probe", var probe, ..])
    AssemblyLoadContext.Default.Resolving += (context, name) =>
        Path.Combine(probe, name.Name + ".dll") is var file && File.Exists(file) ? context.LoadFromAssemblyPath(file) : null;

var serve = Assembly.Load("I3D.MLNet").GetType("I3D.MLNet.Video.VideoDecodeWorker", throwOnError: true)!
    .GetMethod("Serve", BindingFlags.Static | BindingFlags.NonPublic)
    ?? throw new MissingMethodException("I3D.MLNet.Video.VideoDecodeWorker.Serve: this worker and I3D.MLNet.dll are of different releases");
return (int)serve.Invoke(null, null)!;
