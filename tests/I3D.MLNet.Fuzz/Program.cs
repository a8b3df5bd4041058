using System.Globalization;
using I3D.MLNet.Fuzz;

// dotnet run -c Release --project tests/I3D.MLNet.Fuzz -- videos [--iterations 200] [--seed 1] [--isolation in-process|worker]
//     [--inputs ../shared/data/videos] [--work DIR] [--keep DIR] [--timeout 60] [--memory-mb 3072]
// prints a line per file and the table per mutation kind; exit 1 when anything crashed, hung or erred unclearly.
// (the child it starts for each file: ... -- pipeline FILE --isolation X --worker-timeout S --worker-memory-mb M)
const string Usage = "usage: I3D.MLNet.Fuzz videos [--iterations N] [--seed S] [--isolation in-process|worker] [--inputs DIR] [--work DIR] [--keep DIR] [--timeout SECONDS] [--memory-mb MB]";
try
{
    string Option(string name, string fallback)
    {
        int at = Array.IndexOf(args, name);
        return at < 0 ? fallback : at + 1 < args.Length ? args[at + 1] : throw new ArgumentException($"{name} needs a value");
    }
    double Number(string name, double fallback) => double.Parse(Option(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
    switch (args.FirstOrDefault())
    {
        case "pipeline" when args.Length >= 2:
            return VideoFuzzer.Pipeline(args[1], VideoFuzzer.ParseIsolation(Option("--isolation", "in-process")), Number("--worker-timeout", 30), (int)Number("--worker-memory-mb", 2048));
        case "videos":
            var settings = new FuzzSettings((int)Number("--iterations", 200), (int)Number("--seed", 1), VideoFuzzer.ParseIsolation(Option("--isolation", "worker")),
                args.Contains("--inputs") ? Option("--inputs", "") : null, Option("--work", Path.Combine(Path.GetTempPath(), $"i3d-fuzz-{Environment.ProcessId}")),
                Number("--timeout", 60), (int)Number("--memory-mb", 3072), args.Contains("--keep") ? Option("--keep", "") : null);
            var outcomes = VideoFuzzer.Run(settings, Console.Error);
            Console.WriteLine($"seed {settings.Seed}, isolation {VideoFuzzer.IsolationName(settings.Isolation)}, {Environment.ProcessorCount} cores");
            Console.WriteLine(VideoFuzzer.Table(outcomes));
            return outcomes.Any(o => o.Verdict is VideoFuzzer.Crash or VideoFuzzer.Hang or VideoFuzzer.UnclearError) ? 1 : 0;
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"{e.Message}\n{Usage}");
    return 2;
}
