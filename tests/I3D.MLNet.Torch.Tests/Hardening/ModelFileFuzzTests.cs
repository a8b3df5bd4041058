using System.Diagnostics;
using I3D.MLNet.Onnx;
using I3D.MLNet.Testing;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Onnx;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using Xunit.Abstractions;
using static I3D.MLNet.Torch.Tests.Hardening.ModelFileFuzz;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>
/// Byte-mutated model files of each kind we write or read (the transformers' model zips, ONNX exports, torch.save zips and
/// legacy pickles), each loaded and used in a child process (<see cref="ModelFileFuzz"/>): every one either works or fails
/// with a one-line <see cref="InvalidDataException"/> / <see cref="WeightFileException"/> that names the file; none is an
/// unclear error, a hang or a crash. <c>I3D_FUZZ_ITERATIONS</c> sets the mutations per kind (default 12, video zips 3x as
/// many: they load in milliseconds); the seeds and the originals are fixed, so a run repeats.
/// </summary>
public sealed class ModelFileFuzzTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-model-fuzz-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    /// <summary>The original files, by kind name; null where one cannot be made here (the legacy pickle needs python3-torch).</summary>
    private Dictionary<string, string?> MakeOriginals()
    {
        var ml = new MLContext(1);
        var paths = Paths(ml);
        string Save(string name, ITransformer model, IDataView data)
        {
            string path = Path.Combine(dir, name);
            ml.Model.Save(model, data.Schema, path);
            return path;
        }
        var rows = ClipRows.Make(4, 3);
        var clips = ml.Data.LoadFromEnumerable(rows, ClipRows.Schema());
        var classifier = ml.MulticlassClassification.Trainers.I3D(new I3DTrainerOptions
        {
            // One thread: training repeats bit for bit, so the zips (and the mutations' targets) are the same every run.
            RgbColumnName = "Clip", Epochs = 1, BatchSize = 2, ValidationFraction = 0, BatchNormMomentum = 0.1, Seed = 2, Device = "cpu", Threads = 1,
        }).Fit(clips);
        var (_, onnx) = Assert.Single(OnnxExporter.Export(VideoClassification.Classifier(classifier), ClipRows.Size, ClipRows.Frames));
        string onnxPath = Path.Combine(dir, "rgb.onnx");
        File.WriteAllBytes(onnxPath, onnx);
        string pt = Path.Combine(dir, "rgb.pt");
        TorchSharp.torch.manual_seed(4);
        using (var net = new InceptionI3d(2, 3)) ModuleWeights.Save(net, pt);
        string? legacy;
        try { legacy = PythonFixtures.PathOf("rgb_legacy.pt"); }
        catch (SkipException e)
        {
            log.WriteLine($".pt legacy pickle: skipped ({e.Message})");
            legacy = null;
        }
        return new()
        {
            ["LoadVideo zip"] = Save("video.zip", ml.Transforms.LoadVideo("Frames", "Path").Fit(paths), paths),
            ["SampleClips zip"] = Save("clips.zip", ml.Transforms.LoadVideo("Frames", "Path").Append(ml.Transforms.SampleClips("Clip", "Frames")).Fit(paths), paths),
            ["ExtractOpticalFlow zip"] = Save("flow.zip", ml.Transforms.LoadVideo("Frames", "Path").Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames")).Fit(paths), paths),
            ["I3D trainer zip"] = Save("trainer.zip", classifier, clips),
            ["ScoreI3D (ONNX) zip"] = Save("onnx-scorer.zip", ml.Transforms.ScoreI3D(new I3DOnnxScorerOptions { RgbModel = onnx, RgbColumnName = "Clip" }).Fit(clips), clips),
            ["ONNX file"] = onnxPath,
            [".pt zip (torch.save)"] = pt,
            [".pt legacy pickle"] = legacy,
        };
    }

    private static int Iterations(Kind kind)
    {
        int n = int.TryParse(Environment.GetEnvironmentVariable("I3D_FUZZ_ITERATIONS"), out int set) && set > 0 ? set : 12;
        return kind.Name.StartsWith("LoadVideo", StringComparison.Ordinal) || kind.Name.StartsWith("SampleClips", StringComparison.Ordinal)
            || kind.Name.StartsWith("ExtractOpticalFlow", StringComparison.Ordinal) ? 3 * n : n;
    }

    [Fact]
    public void MutatedModelFilesLoadOrFailWithAClearErrorNamingTheFile()
    {
        var originals = MakeOriginals();
        var table = new List<string> { $"{"kind",-24} {"iterations",10} {"successes",10} {"clean",7} {"unclear",8} {"hangs",6} {"crashes",8} {"seconds",8}" };
        var failures = new List<string>();
        for (int k = 0; k < Kinds.Count; k++)
        {
            var kind = Kinds[k];
            if (originals[kind.Name] is not { } original) continue;
            var bytes = File.ReadAllBytes(original);
            string kindDir = Directory.CreateDirectory(Path.Combine(dir, $"kind{k}")).FullName;
            int count = Iterations(kind);
            var descriptions = new List<string>();
            for (int i = 0; i < count; i++)
            {
                var mutator = new Mutator(1000 * k + i);
                // Zips: two mutations in three inside an entry (re-zipped, valid CRCs: the damage reaches our readers), one in the raw bytes.
                string how;
                var mutated = kind.IsZip && i % 3 != 2 ? mutator.MutateZipEntry(bytes, out how, kind.Entries) : mutator.Mutate(bytes, out how);
                File.WriteAllBytes(Path.Combine(kindDir, $"{i:D4}.bin"), mutated);
                descriptions.Add(how);
            }
            var watch = Stopwatch.StartNew();
            var results = RunFiles(kind, kindDir, count, HangLimit);
            int Count(Outcome o) => results.Count(r => r.Outcome == o);
            table.Add($"{kind.Name,-24} {count,10} {Count(Outcome.Success),10} {Count(Outcome.Clean),7} {Count(Outcome.Unclear),8} {Count(Outcome.Hang),6} {Count(Outcome.Crash),8} {watch.Elapsed.TotalSeconds,8:F1}");
            for (int i = 0; i < count; i++)
            {
                var (outcome, detail) = results[i];
                if (outcome is Outcome.Unclear or Outcome.Hang or Outcome.Crash)
                    failures.Add($"{kind.Name} #{i} (seed {1000 * k + i}, {descriptions[i]}): {outcome}: {detail}");
                else if (outcome == Outcome.Clean && Environment.GetEnvironmentVariable("I3D_FUZZ_VERBOSE") == "1")
                    log.WriteLine($"{kind.Name} #{i} ({descriptions[i]}): {detail}");
            }
        }
        foreach (var line in table) log.WriteLine(line);
        foreach (var f in failures) log.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} mutated model files gave an unclear error, a hang or a crash; the first: {failures.FirstOrDefault()}");
    }
}
