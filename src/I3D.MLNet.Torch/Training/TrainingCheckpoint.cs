using System.Security.Cryptography;
using System.Text;

namespace I3D.MLNet.Torch.Training;

/// <summary>
/// Where an interrupted training run stands: epoch, rows of the epoch already trained on, optimizer steps, learning
/// rates and plateau counters, and every stream's weights and optimizer state (momentum). Written atomically (a
/// temporary file, then a rename), so a run killed at any moment leaves the previous checkpoint intact.
/// </summary>
internal sealed class TrainingCheckpoint
{
    private const string Magic = "I3DCKPT2";

    public string Fingerprint { get; set; } = "";
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

    /// <summary>What must match for a checkpoint to be resumed: the options that shape the run, the columns and classes.</summary>
    public static string FingerprintOf(string options, IEnumerable<string> facts)
        => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(options + "\n" + string.Join("\n", facts))))[..16];

    public void Write(string directory, IReadOnlyList<StreamNetwork> streams, IReadOnlyList<TorchSharp.Modules.OptimizerHelper> optimizers)
    {
        Directory.CreateDirectory(directory);
        string path = PathIn(directory), tmp = path + $".tmp{Environment.ProcessId}";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Fingerprint);
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
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads the checkpoint into the streams and optimizers, or returns null when there is none or it is of
    /// another run (a different fingerprint); a damaged file is an error that names it.</summary>
    public static TrainingCheckpoint? TryRead(string directory, string fingerprint, IReadOnlyList<StreamNetwork> streams, IReadOnlyList<TorchSharp.Modules.OptimizerHelper> optimizers)
    {
        string path = PathIn(directory);
        if (!File.Exists(path)) return null;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
            if (reader.ReadString() != Magic) throw new InvalidDataException("not a training checkpoint");
            var c = new TrainingCheckpoint { Fingerprint = reader.ReadString() };
            if (c.Fingerprint != fingerprint) return null;
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
                streams[i].Load(reader);
                optimizers[i].load_state_dict(reader);
            }
            return c;
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or IOException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: the checkpoint is damaged ({e.Message}); delete it to start over", e);
        }
    }
}
