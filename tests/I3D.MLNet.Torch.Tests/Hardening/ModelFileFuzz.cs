using System.Diagnostics;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Onnx;
using I3D.MLNet.Testing;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>
/// The model-file fuzzing of <see cref="ModelFileFuzzTests"/>: the input kinds (each a file of ours and how it is loaded and
/// used), the outcome of one load, and the child process that loads the mutated files one after the other, so that a
/// native crash or a hang ends that process and is counted, not the test host.
/// </summary>
public static class ModelFileFuzz
{
    /// <summary>The outcomes of one load, in table order.</summary>
    public enum Outcome { Success, Clean, Unclear, Hang, Crash }

    /// <summary>One input kind: how mutations are made (raw bytes, or inside the zip entries <paramref name="Entries"/>
    /// accepts) and how a file is loaded and used (in the child process).</summary>
    public sealed record Kind(string Name, bool IsZip, Func<string, bool>? Entries, Action<string> Use);

    /// <summary>The flag of the child process's command line: <c>dotnet I3D.MLNet.Torch.Tests.dll fuzz-child KIND DIR FIRST</c>.</summary>
    public const string ChildFlag = "fuzz-child";

    /// <summary>The clip column of the classifier kinds' rows (<see cref="ClipRows"/>).</summary>
    private static IDataView Clips(MLContext ml) => ml.Data.LoadFromEnumerable(ClipRows.Make(1, 5), ClipRows.Schema());

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    /// <summary>Rows of one video path (never decoded: the video kinds are loaded and asked for their output schema).</summary>
    public static IDataView Paths(MLContext ml) => ml.Data.LoadFromEnumerable([new PathRow { Path = "/nonexistent.mp4" }]);

    /// <summary>Loads a model zip the way our tools do.</summary>
    public static ITransformer LoadZip(string path, out DataViewSchema schema) => ModelZipFile.Load(new MLContext(1), path, out schema);

    private static void UseVideoZip(string path)
    {
        var model = LoadZip(path, out var schema);
        // A zip saved without its input schema (or whose schema entry a mutation removed) loads with none: ask with the original one.
        model.GetOutputSchema(schema ?? Paths(new MLContext(1)).Schema);
    }

    private static void UseClassifierZip(string path)
    {
        var ml = new MLContext(1);
        var model = LoadZip(path, out _);
        try
        {
            _ = model.Transform(Clips(ml)).GetColumn<float[]>("Score").ToList();
        }
        finally { (model as IDisposable)?.Dispose(); }
    }

    private static void UseOnnx(string path)
    {
        using var model = I3DOnnxModel.Load(path, new OnnxSessionSettings { IntraOpThreads = 1 });
        model.Logits(ClipRows.Make(1, 5)[0].Clip, [1, 3, ClipRows.Frames, ClipRows.Size, ClipRows.Size]);
    }

    private static void UseWeights(string path)
    {
        using var net = ModuleWeights.LoadInceptionI3d(path);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        net.forward(zeros([1, 3, ClipRows.Frames, ClipRows.Size, ClipRows.Size]));
    }

    /// <summary>The kinds, by name. The video kinds' mutations go into the entries of the pipeline's last transformer.</summary>
    public static readonly IReadOnlyList<Kind> Kinds =
    [
        new("LoadVideo zip", true, null, UseVideoZip),
        new("SampleClips zip", true, LastTransformer, UseVideoZip),
        new("ExtractOpticalFlow zip", true, LastTransformer, UseVideoZip),
        new("I3D trainer zip", true, null, UseClassifierZip),
        new("ScoreI3D (ONNX) zip", true, null, UseClassifierZip),
        new("ONNX file", false, null, UseOnnx),
        new(".pt zip (torch.save)", true, null, UseWeights),
        new(".pt legacy pickle", false, null, UseWeights),
    ];

    /// <summary>An entry of the second transformer of a two-transformer chain (ML.NET names them <c>..._001</c>) or the zip's schema.</summary>
    private static bool LastTransformer(string entry) => entry.Contains("_001", StringComparison.Ordinal);

    /// <summary>Exception types that mean a reader did not check what it read: never a clean error, whatever wraps them.</summary>
    private static bool IsBug(Exception e) => e is NullReferenceException or IndexOutOfRangeException or OverflowException or OutOfMemoryException
        or InvalidCastException or KeyNotFoundException or DivideByZeroException or AccessViolationException
        or InsufficientExecutionStackException or NotImplementedException or InvalidProgramException
        // An index past the end of a list or span; an ArgumentOutOfRangeException that says which option is out of range is a check.
        || e is ArgumentOutOfRangeException && (e.Message.StartsWith("Index was out of range", StringComparison.Ordinal)
            || e.Message.StartsWith("Specified argument was out of the range", StringComparison.Ordinal) || e.Message.Contains("must be non-negative", StringComparison.Ordinal));

    /// <summary>
    /// Clean: an <see cref="InvalidDataException"/> or <see cref="WeightFileException"/> (or <see cref="FileNotFoundException"/> for a
    /// file that is not there) of one line that names <paramref name="path"/>, with no exception of a bug type inside it. Anything else is unclear.
    /// </summary>
    public static (Outcome Outcome, string Detail) Classify(Exception e, string path)
    {
        var chain = new List<Exception>();
        for (var x = e; x is not null; x = x.InnerException) chain.Add(x);
        string detail = string.Join(" <- ", chain.Select(x => x.GetType().Name)) + ": " + e.Message.Replace('\n', '|')
            + (chain.Count > 1 ? $" [innermost: {chain[^1].Message.Split('\n')[0]}]" : "");
        bool clean = e is InvalidDataException or WeightFileException && !e.Message.Contains('\n') && e.Message.Contains(path, StringComparison.Ordinal)
            && !chain.Any(IsBug);
        return (clean ? Outcome.Clean : Outcome.Unclear, detail);
    }

    /// <summary>The child process: loads DIR/NNNN.bin from FIRST on, one line per file: <c>BEGIN n</c>, then <c>RESULT n Outcome detail</c>.</summary>
    public static int RunChild(string[] args)
    {
        var kind = Kinds.Single(k => k.Name == args[0]);
        string dir = args[1];
        var files = Directory.GetFiles(dir, "*.bin").Order(StringComparer.Ordinal).ToList();
        var stdout = Console.Out;
        for (int i = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture); i < files.Count; i++)
        {
            stdout.WriteLine($"BEGIN {i}");
            stdout.Flush();
            var (outcome, detail) = (Outcome.Success, "");
            try { kind.Use(files[i]); }
            catch (Exception e) { (outcome, detail) = Classify(e, files[i]); }
            stdout.WriteLine($"RESULT {i} {outcome} {detail}");
            stdout.Flush();
        }
        return 0;
    }

    /// <summary>Runs the child over every file of <paramref name="dir"/>; a file whose load ends the process is a crash,
    /// one that takes longer than <paramref name="limit"/> a hang (the child is killed and started again after it).</summary>
    public static List<(Outcome Outcome, string Detail)> RunFiles(Kind kind, string dir, int count, TimeSpan limit)
    {
        var results = new List<(Outcome, string)>();
        while (results.Count < count)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "exec", typeof(ModelFileFuzz).Assembly.Location, ChildFlag, kind.Name, dir, results.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) })
                info.ArgumentList.Add(a);
            // A reader that allocates what a length field says fails here as an OutOfMemoryException (unclear), not by taking the machine's memory.
            info.Environment["DOTNET_GCHeapHardLimit"] = "0xC0000000";
            using var child = Process.Start(info)!;
            var stderr = new System.Text.StringBuilder();
            child.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
            child.BeginErrorReadLine();
            int current = -1;
            while (true)
            {
                var line = child.StandardOutput.ReadLineAsync();
                if (!line.Wait(limit))
                {
                    child.Kill(entireProcessTree: true);
                    child.WaitForExit();
                    results.Add((Outcome.Hang, $"no result in {limit.TotalSeconds:F0} s"));
                    break;
                }
                if (line.Result is null)
                {
                    child.WaitForExit();
                    if (current >= 0) results.Add((Outcome.Crash, $"the process ended with exit code {child.ExitCode}: {Tail(stderr)}"));
                    else if (results.Count < count) throw new InvalidOperationException($"the fuzz child exited {child.ExitCode} before a file: {Tail(stderr)}");
                    break;
                }
                var parts = line.Result.Split(' ', 4);
                if (parts[0] == "BEGIN") current = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                else if (parts[0] == "RESULT")
                {
                    results.Add((Enum.Parse<Outcome>(parts[2]), parts.Length > 3 ? parts[3] : ""));
                    current = -1;
                }
            }
        }
        return results;
    }

    private static string Tail(System.Text.StringBuilder s)
    {
        lock (s)
        {
            string text = s.ToString().Trim().Replace('\n', '|');
            return text.Length > 400 ? text[^400..] : text;
        }
    }
}
