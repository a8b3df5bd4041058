using I3D.MLNet.Flow;
using I3D.MLNet.Video;

namespace I3D.MLNet.Tests.Flow;

public sealed class FlowCacheTests
{
    private static VideoFrames Video() => FlowTestData.Pair(FlowTestData.Rotation(3, 20, 20), 40, 40);

    [Fact]
    public void AVideoIsComputedOnceAndReadBackAcrossInstances()
    {
        string dir = TestVideos.TempDir("flow-cache");
        var cache = new FlowCache(dir);
        var options = new FlowOptions { Quantize = true };
        var first = OpticalFlow.Compute(Video(), options, cache);
        var second = OpticalFlow.Compute(Video(), options, cache);
        Assert.Equal((1, 1, 1), (cache.Misses, cache.Stores, cache.Hits));
        Assert.True(first.Floats.SequenceEqual(second.Floats));

        // Another "run": a new instance on the same directory finds the entry.
        var again = new FlowCache(dir);
        var third = OpticalFlow.Compute(Video(), options, again);
        Assert.Equal((0, 1), (again.Misses, again.Hits));
        Assert.True(first.Floats.SequenceEqual(third.Floats));

        // Anything in the key changes the entry: other options, other frames.
        OpticalFlow.Compute(Video(), options with { Quantize = false }, again);
        var moved = Video();
        moved.Bytes[0] ^= 1;
        OpticalFlow.Compute(moved, options, again);
        Assert.Equal(2, again.Misses);
        Assert.Equal(3, Directory.GetFiles(dir, "*.flow").Length);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void UnquantisedFlowIsTheSameWhetherComputedOrRead()
    {
        string dir = TestVideos.TempDir("flow-cache-half");
        var cache = new FlowCache(dir);
        var computed = OpticalFlow.Compute(Video(), cache: cache);
        var read = OpticalFlow.Compute(Video(), cache: cache);
        Assert.Equal(1, cache.Hits);
        Assert.True(computed.Floats.SequenceEqual(read.Floats));
        var uncached = OpticalFlow.Compute(Video());
        for (int i = 0; i < read.Floats.Length; i++) Assert.Equal(uncached.Floats[i], read.Floats[i], 5e-4f);
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    [InlineData("empty")]
    [InlineData("garbage")]
    public void ACorruptEntryIsRecomputedNotTrusted(string damage)
    {
        string dir = TestVideos.TempDir("flow-cache-corrupt");
        var cache = new FlowCache(dir);
        var options = new FlowOptions { Quantize = true };
        var good = OpticalFlow.Compute(Video(), options, cache);
        string entry = Directory.GetFiles(dir, "*.flow").Single();
        var bytes = File.ReadAllBytes(entry);
        switch (damage)
        {
            case "flip": bytes[bytes.Length / 2] ^= 0x40; break;
            case "truncate": bytes = bytes[..(bytes.Length * 2 / 3)]; break;
            case "empty": bytes = []; break;
            default: new Random(3).NextBytes(bytes); break;
        }
        File.WriteAllBytes(entry, bytes);

        var recomputed = OpticalFlow.Compute(Video(), options, cache);
        Assert.Equal(1, cache.Corrupt);
        Assert.Equal(2, cache.Stores);
        Assert.True(good.Floats.SequenceEqual(recomputed.Floats));
        // The entry was rewritten and is good again.
        OpticalFlow.Compute(Video(), options, cache);
        Assert.Equal(1, cache.Hits);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void SeveralWritersAtOnceLeaveOneGoodEntry()
    {
        string dir = TestVideos.TempDir("flow-cache-race");
        var options = new FlowOptions { Quantize = true, MaxDegreeOfParallelism = 1 };
        var caches = Enumerable.Range(0, 4).Select(_ => new FlowCache(dir)).ToArray();
        var results = new VideoFrames[4];
        Parallel.For(0, 4, i => results[i] = OpticalFlow.Compute(Video(), options, caches[i]));
        Assert.Single(Directory.GetFiles(dir, "*.flow"));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        var reader = new FlowCache(dir);
        var read = OpticalFlow.Compute(Video(), options, reader);
        Assert.Equal(1, reader.Hits);
        Assert.All(results, r => Assert.True(r.Floats.SequenceEqual(read.Floats)));
        Directory.Delete(dir, recursive: true);
    }
}

public sealed class FlowCacheWriteFailureTests
{
    [Fact]
    public void AnUnwritableCacheStillReturnsTheFlow()
    {
        string dir = TestVideos.TempDir("flow-cache-readonly");
        var cache = new FlowCache(dir);
        // A directory where the entry file should be: the rename fails (on any user, unlike permissions for root).
        var video = FlowTestData.Pair(FlowTestData.Translation(1, 0), 24, 24);
        var options = new FlowOptions { Quantize = true };
        string key = cache.Key(video, options);
        Directory.CreateDirectory(Path.Combine(dir, key[..40] + ".flow"));
        var flow = OpticalFlow.Compute(video, options, cache);
        Assert.Equal(2, flow.FrameCount);
        Assert.Equal((1, 0, 1), (cache.WriteFailures, cache.Stores, cache.Misses));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        Directory.Delete(dir, recursive: true);
    }
}
