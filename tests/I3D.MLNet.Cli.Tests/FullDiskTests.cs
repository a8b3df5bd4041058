using I3D.MLNet.Cli.Commands;
using I3D.MLNet.Datasets;
using I3D.MLNet.IO;
using I3D.MLNet.Testing;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace I3D.MLNet.Cli.Tests;

/// <summary>
/// A full disk (<see cref="SmallDisk"/>) under the CLI's outputs: the model zip <c>i3d train</c> saves, and the .npy
/// and flow cache of <c>i3d flow</c> run as a user runs it. A clear error naming the file, the previous file still
/// valid, no temporary file left, and a rerun that succeeds once the space is back.
/// </summary>
public sealed class FullDiskTests(ITestOutputHelper output)
{
    private static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "i3d-cli-full-disk", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Videos(string dir, int frames, int size)
    {
        SyntheticMotion.Write(dir, new SyntheticMotionOptions { Classes = 2, PerClass = 2, TestPerClass = 1, Frames = frames, Size = size, Seed = 5 });
        return dir;
    }

    /// <summary>The zip of <c>i3d train</c> (<see cref="TrainCommand.Train"/>, then <see cref="TrainCommand.SaveModel"/>
    /// again): RGB InceptionI3d of 2 classes, about 50 MB.</summary>
    [SkippableFact]
    public void AModelZipOnAFullDiskFailsClearlyAndThePreviousZipStillLoads()
    {
        string data = Videos(Temp("zip-data"), frames: 10, size: 64);
        using var disk = SmallDisk.Create("model-zip", 160L << 20);
        output.WriteLine(disk.How);
        var dataset = VideoDataset.FromFolder(Path.Combine(data, "train"));
        var clips = new ClipPipelineOptions { Streams = I3DStreams.Rgb, Frames = 8, Size = 56 };
        var trainer = new I3DTrainerOptions { Epochs = 1, BatchSize = 4, ValidationFraction = 0, BatchNormCalibrationClips = 0, Seed = 3 };
        string zip = Path.Combine(disk.Root, "models", "model.zip");
        var model = TrainCommand.Train(dataset, clips, trainer, zip, TextWriter.Null);
        byte[] before = File.ReadAllBytes(zip);
        output.WriteLine($"model zip: {before.Length:N0} bytes");
        var ml = new MLContext(1);
        var schema = dataset.ToDataView(ml).Schema;

        disk.Fill(leaveFree: 1 << 20);
        var error = Assert.ThrowsAny<IOException>(() => TrainCommand.SaveModel(ml, model, schema, zip));
        output.WriteLine(error.Message);
        Assert.StartsWith($"{zip}: not written: the disk is full", error.Message);
        Assert.Contains("unchanged", error.Message);
        Assert.True(AtomicFile.IsDiskFull(error));
        Assert.Equal(before, File.ReadAllBytes(zip));
        Assert.Empty(disk.TemporaryFiles());
        float[] scores = Scores(zip, dataset);

        disk.Free();
        TrainCommand.SaveModel(ml, model, schema, zip);
        Assert.Equal(scores, Scores(zip, dataset));
        Assert.Empty(disk.TemporaryFiles());
        Directory.Delete(data, recursive: true);
    }

    /// <summary><c>i3d flow --out X.npy --cache-dir C</c> in a child process, which needs the real small file system: the
    /// cache entry that does not fit is a warning, the .npy that does not fit is the command's one-line error.</summary>
    [SkippableFact]
    public void TheFlowCommandOnAFullDiskWarnsAboutTheCacheFailsOnTheNpyAndSucceedsOnceSpaceIsBack()
    {
        using var disk = SmallDisk.Create("flow-command", 1 << 20);
        output.WriteLine(disk.How);
        disk.RequireMounted();
        string data = Videos(Temp("flow-data"), frames: 6, size: 32);
        string video = Directory.GetFiles(Path.Combine(data, "train"), "*.avi", SearchOption.AllDirectories).Order().First();
        string npy = Path.Combine(disk.Root, "flow.npy"), cache = Path.Combine(disk.Root, "cache");
        string[] Args(int frames) => ["flow", video, "--out", npy, "--cache-dir", cache, "--quantize", "--fps", "0", "--shorter-side", "0", "--max-frames", $"{frames}"];
        I3dProcess.Ok(Args(4));
        var before = Npy.Read(npy);

        disk.Fill();
        var failed = I3dProcess.Run(Args(6));
        output.WriteLine(failed.Stderr);
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains($"i3d: {npy}: not written: the disk is full", failed.Stderr);
        Assert.Contains("i3d: warning: the flow cache in " + cache, failed.Stderr);
        Assert.Equal(2, failed.Stderr.Trim().Split('\n').Length); // one warning, one error
        var still = Npy.Read(npy);
        Assert.Equal(before.Shape, still.Shape);
        Assert.Equal(before.Data, still.Data);
        Assert.Empty(disk.TemporaryFiles());

        disk.Free();
        var ok = I3dProcess.Ok(Args(6));
        Assert.DoesNotContain("warning", ok.Stderr);
        Assert.Equal([6, 32, 32, 2], Npy.Read(npy).Shape);
        Assert.Equal(2, Directory.GetFiles(cache, "*.flow").Length);
        Assert.Empty(disk.TemporaryFiles());
        Directory.Delete(data, recursive: true);
    }

    private static float[] Scores(string zip, VideoDataset dataset)
    {
        var ml = new MLContext(2);
        var model = ml.Model.Load(zip, out _);
        return [.. model.Transform(dataset.ToDataView(ml)).GetColumn<float[]>("Score").SelectMany(s => s)];
    }
}
