using I3D.MLNet.IO;
using I3D.MLNet.Testing;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace I3D.MLNet.Torch.Tests.Training;

/// <summary>
/// A full disk while the trainer writes its checkpoint (<see cref="SmallDisk"/>: a tmpfs, or a simulated full disk
/// where mounting is not allowed): the run stops with an error naming the checkpoint and saying the disk is full, the
/// previous checkpoint is byte for byte what it was and still resumes, no temporary file is left, and the same run
/// succeeds once the space is back.
/// </summary>
public sealed class FullDiskTests(ITestOutputHelper output)
{
    // One flow stream of InceptionI3d: a checkpoint (weights and momentum) is about 100 MB; room for two and some.
    private const long DiskBytes = 288L << 20;

    [SkippableFact]
    public void ACheckpointOnAFullDiskFailsClearlyAndThePreviousOneStillResumes()
    {
        var rows = TrainerTests.RandomFlowRows();
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(rows);
        using var disk = SmallDisk.Create("checkpoint", DiskBytes);
        output.WriteLine(disk.How);
        string checkpoints = Path.Combine(disk.Root, "checkpoints");
        var epochs = new List<int>();
        var options = new I3DTrainerOptions
        {
            RgbColumnName = null, FlowColumnName = "FlowClip", Epochs = 1, BatchSize = 4, ValidationFraction = 0, CheckpointDirectory = checkpoints,
            CheckpointEverySteps = 0, BatchNormCalibrationClips = 0, Progress = new TrainerTests.SyncProgress<I3DTrainingProgress>(p => { if (p.Phase == "epoch") epochs.Add(p.Epoch); }),
        };
        ml.MulticlassClassification.Trainers.I3D(options).Fit(data);
        string file = Path.Combine(checkpoints, "checkpoint.bin");
        byte[] before = File.ReadAllBytes(file);
        output.WriteLine($"checkpoint after epoch 1: {before.Length:N0} bytes");

        // Extended by an epoch on a full disk: the end-of-epoch checkpoint cannot be written.
        disk.Fill(leaveFree: 1 << 20);
        var error = Assert.ThrowsAny<Exception>(() => ml.MulticlassClassification.Trainers.I3D(options with { Epochs = 2 }).Fit(data));
        var io = Assert.IsAssignableFrom<IOException>(error);
        output.WriteLine(io.Message);
        Assert.StartsWith($"{file}: not written: the disk is full", io.Message);
        Assert.Contains("unchanged", io.Message);
        Assert.True(AtomicFile.IsDiskFull(io));
        Assert.Equal(before, File.ReadAllBytes(file));
        Assert.Empty(disk.TemporaryFiles());

        // Space back: the same run resumes from the old checkpoint (after epoch 1) and finishes.
        disk.Free();
        epochs.Clear();
        ml.MulticlassClassification.Trainers.I3D(options with { Epochs = 2 }).Fit(data);
        Assert.Equal([1], epochs);
        Assert.NotEqual(before, File.ReadAllBytes(file));
        Assert.Empty(disk.TemporaryFiles());
    }
}
