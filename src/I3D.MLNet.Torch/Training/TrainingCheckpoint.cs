using System.Security.Cryptography;
using System.Text;
using I3D.MLNet.IO;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Weights;

namespace I3D.MLNet.Torch.Training;

/// <summary>
/// Where an interrupted training run stands: epoch, rows of the epoch already trained on, optimizer steps, learning
/// rates and plateau counters, and every stream's weights and optimizer state (momentum). Written atomically
/// (<see cref="AtomicFile"/>: a temporary file, then a rename), so a run killed at any moment, or a full disk, leaves the
/// previous checkpoint intact.
/// </summary>
/// <remarks>
/// Layout (BinaryWriter: length-prefixed UTF-8 strings, little-endian numbers): magic <c>I3DCKPT3</c>; the run's
/// fingerprint; the run description it was hashed from (one <c>key=value</c> per line); epoch (int32), rows done (int64),
/// step (int64), finished (bool), loss count of the epoch (int64); the stream count (int32), then per stream: learning
/// rate, best loss (double), bad epochs (int32), the epoch's loss sum (double), the network's weights
/// (<c>Module.save</c>) and the optimizer state (<c>save_state_dict</c>).
/// Version history: 2 (<c>I3DCKPT2</c>) had no run description, so a checkpoint of another run could only be skipped
/// (and then overwritten); 3 adds it, so such a checkpoint stops the run with the options that differ named. Both read.
/// </remarks>
internal sealed class TrainingCheckpoint
{
    private const string Magic = "I3DCKPT3", PreviousMagic = "I3DCKPT2";

    public string Fingerprint { get; set; } = "";

    /// <summary>What the fingerprint was computed from: <c>key=value</c> lines (see <see cref="Describe"/>).</summary>
    public string Description { get; set; } = "";
    public int Epoch { get; set; }
    public long RowsDone { get; set; }
    public long Step { get; set; }
    public bool Finished { get; set; }
    public double[] LearningRates { get; set; } = [];
    public double[] BestLosses { get; set; } = [];
    public int[] BadEpochs { get; set; } = [];

    /// <summary>Sums of the training losses of the current epoch so far, per stream, and the clips they cover: the
    /// epoch's mean loss (the plateau signal without validation rows) must not forget the steps before an interruption.</summary>
    public double[] EpochLossSums { get; set; } = [];
    public long EpochLossCount { get; set; }

    public static string PathIn(string directory) => System.IO.Path.Combine(directory, "checkpoint.bin");

    /// <summary>What must match for a checkpoint to be resumed, one <c>key=value</c> per line: the options that shape the
    /// run (a JSON object's top-level properties) and other facts (columns, classes, clip shapes).</summary>
    public static string Describe(string optionsJson, IEnumerable<(string Key, string Value)> facts)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(optionsJson);
        var lines = doc.RootElement.EnumerateObject().Select(p => $"{p.Name}={p.Value.GetRawText()}")
            .Concat(facts.Select(f => $"{f.Key}={f.Value}"));
        return string.Join("\n", lines);
    }

    public static string FingerprintOf(string description)
        => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(description)))[..16];

    public void Write(string directory, IReadOnlyList<StreamNetwork> streams, IReadOnlyList<TorchSharp.Modules.OptimizerHelper> optimizers)
    {
        AtomicFile.Write(PathIn(directory), stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(Fingerprint);
            writer.Write(Description);
            writer.Write(Epoch);
            writer.Write(RowsDone);
            writer.Write(Step);
            writer.Write(Finished);
            writer.Write(EpochLossCount);
            writer.Write(streams.Count);
            for (int i = 0; i < streams.Count; i++)
            {
                writer.Write(LearningRates[i]);
                writer.Write(BestLosses[i]);
                writer.Write(BadEpochs[i]);
                writer.Write(EpochLossSums[i]);
                streams[i].Save(writer);
                optimizers[i].save_state_dict(writer);
            }
            writer.Flush();
        });
    }

    /// <summary>Reads the checkpoint into the streams and optimizers, or returns null when there is none. A checkpoint
    /// of another run (a different fingerprint) is an error naming the options that differ: resuming it would be wrong,
    /// and starting over would overwrite it. A damaged file is an error that names it.</summary>
    public static TrainingCheckpoint? TryRead(string directory, string fingerprint, string description, IReadOnlyList<StreamNetwork> streams, IReadOnlyList<TorchSharp.Modules.OptimizerHelper> optimizers)
    {
        string path = PathIn(directory);
        if (!File.Exists(path)) return null;
        TrainingCheckpoint c;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            string magic = reader.ReadString();
            if (magic != Magic && magic != PreviousMagic) throw new InvalidDataException("not a training checkpoint");
            c = new TrainingCheckpoint { Fingerprint = reader.ReadString() };
            if (magic == Magic) c.Description = reader.ReadString();
            if (c.Fingerprint != fingerprint) throw new CheckpointOfAnotherRunException(path, Differences(c.Description, description));
            c.Epoch = reader.ReadInt32();
            c.RowsDone = reader.ReadInt64();
            c.Step = reader.ReadInt64();
            c.Finished = reader.ReadBoolean();
            c.EpochLossCount = reader.ReadInt64();
            int n = reader.ReadInt32();
            if (n != streams.Count) throw new InvalidDataException($"{n} streams, the run has {streams.Count}");
            c.LearningRates = new double[n];
            c.BestLosses = new double[n];
            c.BadEpochs = new int[n];
            c.EpochLossSums = new double[n];
            for (int i = 0; i < n; i++)
            {
                c.LearningRates[i] = reader.ReadDouble();
                c.BestLosses[i] = reader.ReadDouble();
                c.BadEpochs[i] = reader.ReadInt32();
                c.EpochLossSums[i] = reader.ReadDouble();
                streams[i].Load(reader, $"the weights of the {streams[i].Stream.Name()} stream");
                optimizers[i].load_state_dict(reader);
            }
            return c;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or IOException or ArgumentException or WeightFileException)
        {
            throw new InvalidDataException($"{path}: the checkpoint is damaged ({e.Message}); delete it to start over", e);
        }
    }

    /// <summary>The keys whose values differ between two descriptions (all of them unknown for a version-2 file).</summary>
    private static string Differences(string saved, string current)
    {
        if (saved.Length == 0) return "written by an older version that did not record its options";
        static Dictionary<string, string> Parse(string d) => d.Split('\n').Select(l => l.Split('=', 2)).Where(p => p.Length == 2)
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        var a = Parse(saved);
        var b = Parse(current);
        var keys = a.Keys.Union(b.Keys).Where(k => a.GetValueOrDefault(k) != b.GetValueOrDefault(k)).Order(StringComparer.Ordinal)
            .Select(k => $"{k} {a.GetValueOrDefault(k, "(none)")} -> {b.GetValueOrDefault(k, "(none)")}").ToList();
        return keys.Count == 0 ? "same options, other data" : string.Join(", ", keys);
    }
}

/// <summary>The checkpoint folder holds the checkpoint of a run with other options: a one-line, user-facing error.</summary>
public sealed class CheckpointOfAnotherRunException(string path, string differences)
    : InvalidOperationException($"{path} is the checkpoint of another training run ({differences}); delete it, or give another checkpoint folder, to start this run")
{
}
