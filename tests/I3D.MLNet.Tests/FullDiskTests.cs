using I3D.MLNet.Datasets;
using I3D.MLNet.Flow;
using I3D.MLNet.IO;
using I3D.MLNet.Testing;
using I3D.MLNet.Tests.Flow;
using I3D.MLNet.Video;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests;

/// <summary>
/// A full disk (a 1 MB tmpfs, or a simulated one where mounting is not allowed: <see cref="SmallDisk"/>) while writing
/// a .npy output, a flow cache entry or a synthetic video: a clear error (or, for the cache, one warning and no error),
/// the previous file intact, no temporary file left, and the same write succeeding once the space is back.
/// </summary>
public sealed class FullDiskTests(ITestOutputHelper output)
{
    private const long DiskBytes = 1 << 20;

    private static void AssertDiskFullError(Exception error, string file)
    {
        var io = Assert.IsAssignableFrom<IOException>(error);
        Assert.Contains(file, io.Message);
        Assert.Contains("the disk is full", io.Message);
        Assert.Contains("unchanged", io.Message);
        Assert.True(AtomicFile.IsDiskFull(io), io.ToString());
        Assert.NotNull(io.InnerException);
    }

    [SkippableFact]
    public void ANpyOutputOnAFullDiskFailsClearlyAndKeepsThePreviousFile()
    {
        using var disk = SmallDisk.Create("npy", DiskBytes);
        output.WriteLine(disk.How);
        string npy = Path.Combine(disk.Root, "out", "clip.npy");
        float[] first = [.. Enumerable.Range(0, 20_000).Select(i => i * 0.5f)], second = [.. first.Select(v => -v)];
        Npy.Write(npy, first, 100, 200);

        disk.Fill();
        var error = Assert.ThrowsAny<IOException>(() => Npy.Write(npy, second, 100, 200));
        output.WriteLine(error.Message);
        AssertDiskFullError(error, npy);
        Assert.Contains("80,128 bytes to write", error.Message); // header (128) + 20,000 float32
        Assert.Equal(first, Npy.Read(npy).Data);
        Assert.Empty(disk.TemporaryFiles());

        disk.Free();
        Npy.Write(npy, second, 100, 200);
        Assert.Equal(second, Npy.Read(npy).Data);
        Assert.Empty(disk.TemporaryFiles());
    }

    /// <summary>The cache is not worth a failed training: the flow comes back right, the first failure is said once
    /// (an ML.NET warning), the entries already there still read, and a later run fills in the missing ones.</summary>
    [SkippableFact]
    public void AFlowCacheEntryOnAFullDiskIsAWarningOnceAndTheOldEntriesStillRead()
    {
        using var disk = SmallDisk.Create("flow-cache", DiskBytes);
        output.WriteLine(disk.How);
        string videos = TestVideos.TempDir("full-disk-videos");
        string[] paths = [.. Enumerable.Range(0, 3).Select(i => FlowTestData.WriteSlidingTexture(Path.Combine(videos, $"v{i}.avi"), 6, 48, 40, 1.5, seed: 21 + i))];
        var ml = new MLContext(seed: 1);
        var warnings = new List<string>();
        ml.Log += (_, e) => { if (e.Kind == ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        string cacheDir = Path.Combine(disk.Root, "cache");
        var model = ml.Transforms.LoadVideo("Rgb", nameof(PathRow.Path), new VideoLoaderOptions { Decode = new VideoDecodeOptions { ShorterSide = null } })
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Rgb", new FlowOptions { CacheDirectory = cacheDir, Quantize = true }))
            .Fit(Rows(ml, paths[..1]));
        var cache = model.LastTransformer.Cache!;
        var expected = Flows(model, Rows(ml, paths));            // computes and stores all three
        Assert.Equal(3, cache.Stores);
        foreach (string entry in Directory.GetFiles(cacheDir, "*.flow").Skip(1)) File.Delete(entry);

        disk.Fill();
        var full = Flows(model, Rows(ml, paths));                // one hit, two computed and not kept
        Assert.Equal((3, 1, 2), (cache.Stores, cache.Hits, cache.WriteFailures));
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], full[i]);
        string warning = Assert.Single(warnings);
        output.WriteLine(warning);
        Assert.Contains("the disk is full", warning);
        Assert.Contains(cacheDir, warning);
        Assert.Contains("not kept", warning);
        Assert.Equal(cache.FirstWriteFailure, warning[(warning.IndexOf("ExtractOpticalFlow: ", StringComparison.Ordinal) + 20)..]);
        Assert.Single(Directory.GetFiles(cacheDir, "*.flow"));
        Assert.Empty(disk.TemporaryFiles());

        disk.Free();
        Flows(model, Rows(ml, paths));                           // the missing entries are written now
        Assert.Equal((5, 2), (cache.Stores, cache.WriteFailures));
        var read = Flows(model, Rows(ml, paths));
        Assert.Equal(5, cache.Hits);
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], read[i]);
        Assert.Single(warnings);
        Directory.Delete(videos, recursive: true);
    }

    [SkippableFact]
    public void ASyntheticVideoOnAFullDiskFailsClearlyAndKeepsThePreviousVideo()
    {
        using var disk = SmallDisk.Create("synthetic", DiskBytes);
        output.WriteLine(disk.How);
        var options = new SyntheticMotionOptions { Classes = 2, PerClass = 1, TestPerClass = 1, Frames = 6, Size = 32 };
        SyntheticMotion.Write(disk.Root, options);
        string video = Directory.GetFiles(Path.Combine(disk.Root, "train"), "*.avi", SearchOption.AllDirectories).Order().First();
        byte[] before = File.ReadAllBytes(video);

        disk.Fill();
        var error = Assert.ThrowsAny<IOException>(() => SyntheticMotion.Write(disk.Root, options with { Seed = 2 }));
        output.WriteLine(error.Message);
        AssertDiskFullError(error, video);
        Assert.Equal(before, File.ReadAllBytes(video));
        Assert.Empty(disk.TemporaryFiles());

        disk.Free();
        SyntheticMotion.Write(disk.Root, options with { Seed = 2 });
        Assert.NotEqual(before, File.ReadAllBytes(video));
        using var decoder = VideoDecoder.Open(video);
        var frames = new VideoFrames();
        decoder.Decode(new VideoDecodeOptions { FrameRate = null, ShorterSide = null }, frames);
        Assert.Equal(6, frames.FrameCount);
        Assert.Empty(disk.TemporaryFiles());
    }

    /// <summary>What the helper promises on any failure, full disk or not: the target untouched, no temporary file,
    /// input/output errors as one IOException naming the target (its cause inside), other exceptions as they were.</summary>
    [Fact]
    public void AFailedWriteLeavesTheTargetAndNoTemporaryFile()
    {
        string dir = TestVideos.TempDir("atomic-file");
        string file = Path.Combine(dir, "state.bin");
        AtomicFile.WriteAllText(file, "before");

        var bug = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(file, s => { s.WriteByte(1); throw new InvalidOperationException("bug"); }));
        Assert.Equal("bug", bug.Message);
        var io = Assert.Throws<IOException>(() => AtomicFile.Write(file, s => { s.WriteByte(1); throw new EndOfStreamException("source ended"); }));
        Assert.StartsWith($"{file}: not written: source ended", io.Message);
        Assert.IsType<EndOfStreamException>(io.InnerException);
        Assert.False(AtomicFile.IsDiskFull(io));

        Assert.Equal("before", File.ReadAllText(file));
        Assert.Equal("state.bin", Path.GetFileName(Assert.Single(Directory.GetFiles(dir))));
        Directory.Delete(dir, recursive: true);
    }

    private static IDataView Rows(MLContext ml, string[] paths) => ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { Path = p }));

    private static List<float[]> Flows(ITransformer model, IDataView data)
    {
        var view = model.Transform(data);
        var column = view.Schema["Flow"];
        using var cursor = view.GetRowCursor([column]);
        var getter = cursor.GetGetter<VideoFrames>(column);
        var result = new List<float[]>();
        var frames = new VideoFrames();
        while (cursor.MoveNext())
        {
            getter(ref frames);
            result.Add(frames.Floats.ToArray());
        }
        return result;
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
