using System.Diagnostics;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Microsoft.ML;

namespace I3D.MLNet.Tests.Video;

/// <summary>LoadVideo's WorkerProcess isolation: the same frames as decoding in this process, and a decoder that
/// crashes, hangs or grows costs one video (an error naming it), never the test host.</summary>
[Collection(DecodeWorkers.Collection)]
public class DecodeWorkerTests
{
    private static readonly VideoDecodeOptions Small = new() { ShorterSide = 64 };

    private static VideoFrames InProcess(string path, VideoDecodeOptions options)
    {
        var frames = new VideoFrames();
        using var decoder = VideoDecoder.Open(path);
        decoder.Decode(options, frames);
        return frames;
    }

    private static void AssertSame(VideoFrames expected, VideoFrames actual)
    {
        Assert.Equal((expected.FrameCount, expected.Height, expected.Width, expected.FramesPerSecond), (actual.FrameCount, actual.Height, actual.Width, actual.FramesPerSecond));
        Assert.True(expected.Bytes.SequenceEqual(actual.Bytes), "the worker's frames differ from this process's");
    }

    [Fact]
    public void GivesTheFramesOfThisProcessAndSurvivesABadFile()
    {
        string dir = TestVideos.TempDir("worker");
        string good = TestVideos.Write(Path.Combine(dir, "good.avi"), 20, 96, 72);
        string bad = TestVideos.RandomBytes(Path.Combine(dir, "bad.mp4"), 20_000);
        using var worker = new VideoLoaderOptions().NewWorker();
        var frames = new VideoFrames();
        worker.Decode(good, Small, frames);
        AssertSame(InProcess(good, Small), frames);

        var e = Assert.Throws<VideoDecodeException>(() => worker.Decode(bad, Small, frames));
        Assert.Contains(bad, e.Message);
        Assert.Contains("not a video file", e.Message);

        // The same worker goes on (a clean error does not cost the process).
        worker.Decode(good, new VideoDecodeOptions { FrameRate = null, ShorterSide = null }, frames);
        AssertSame(InProcess(good, new VideoDecodeOptions { FrameRate = null, ShorterSide = null }), frames);
    }

    [SkippableFact]
    public void RealVideosMatchDecodingInThisProcess()
    {
        using var worker = new VideoLoaderOptions().NewWorker();
        var frames = new VideoFrames();
        foreach (var name in new[] { "v_Basketball_g01_c01.avi", "mmaction2_tests_test.mp4" })
        {
            string path = SharedData.Video(name);
            worker.Decode(path, new VideoDecodeOptions(), frames);
            AssertSame(InProcess(path, new VideoDecodeOptions()), frames);
        }
    }

    [Fact]
    public void ACrashInTheWorkerIsAnErrorNamingTheVideoAndTheNextVideoDecodes()
    {
        string dir = TestVideos.TempDir("worker-crash");
        string good = TestVideos.Write(Path.Combine(dir, "good.avi"), 10, 64, 48);
        using var worker = new VideoLoaderOptions().NewWorker();
        var frames = new VideoFrames();

        // A worker that dies while the parent waits for its answer: stopped (SIGSTOP) while idle, sent the next video, then
        // killed (SIGKILL, as the kernel's OOM killer does; the .NET runtime in the worker ignores a SIGSEGV or SIGABRT that
        // kill sends, while a real fault in FFmpeg ends it the same way: the parent sees the pipe close and the signal).
        worker.Decode(good, Small, frames);
        int pid = worker.ProcessId ?? throw new InvalidOperationException("no worker after a decode");
        Signal("STOP", pid);
        Exception? e = null;
        var decoding = new Thread(() =>
        {
            try { worker.Decode(good, Small, frames); }
            catch (Exception x) { e = x; }
        });
        decoding.Start();
        Thread.Sleep(500);
        Signal("KILL", pid);
        Assert.True(decoding.Join(TimeSpan.FromSeconds(60)), "the decode did not return after the worker died");
        Assert.IsType<VideoDecodeException>(e);
        Assert.Contains(good, e.Message);
        Assert.Contains("crashed (SIGKILL)", e.Message);

        worker.Decode(good, Small, frames);
        AssertSame(InProcess(good, Small), frames);
    }

    [Fact]
    public void TheTimeAndMemoryLimitsStopTheWorkerWithAClearError()
    {
        // 150 frames of 320 x 240 at full size: 35 MB of frames on top of the runtime and OpenCV (about 60 MB).
        string video = TestVideos.Write(Path.Combine(TestVideos.TempDir("worker-limits"), "big.avi"), 150, 320, 240);
        var whole = new VideoDecodeOptions { FrameRate = null, ShorterSide = null };
        var frames = new VideoFrames();
        using (var slow = new VideoLoaderOptions { WorkerTimeoutSeconds = 0.001 }.NewWorker())
            Assert.Contains("did not finish in 0 s", Assert.Throws<VideoDecodeException>(() => slow.Decode(video, whole, frames)).Message);
        using var small = new VideoLoaderOptions { WorkerMemoryLimitMegabytes = 64 }.NewWorker();
        var e = Assert.Throws<VideoDecodeException>(() => small.Decode(video, whole, frames));
        Assert.Contains(video, e.Message);
        Assert.Contains("used more than 64 MB", e.Message);
    }

    /// <summary>The watchdog reads a process's peak resident memory (so a peak between two samples is not missed).</summary>
    [Fact]
    public void TheWatchdogReadsThePeakResidentMemory()
    {
        using var self = Process.GetCurrentProcess();
        var ballast = new byte[64 << 20];
        Array.Fill(ballast, (byte)1); // resident now
        // The resident memory first: other tests' threads allocate meanwhile, and only the mark read later bounds it.
        self.Refresh();
        long resident = self.WorkingSet64;
        long? peak = ProcessWatchdog.PeakResident(self.Id);
        Assert.NotNull(peak);
        Assert.True(peak >= resident, $"peak {peak} below the resident {resident} read before it");
        Assert.True(peak >= ballast.Length, $"peak {peak}");
        GC.KeepAlive(ballast);
    }

    [Fact]
    public void LoadVideoInWorkersSkipsBadRowsAndKeepsTheGoodOnes()
    {
        string dir = TestVideos.TempDir("worker-pipeline");
        string good = TestVideos.Write(Path.Combine(dir, "good.avi"), 8, 64, 48);
        string bad = TestVideos.RandomBytes(Path.Combine(dir, "bad.avi"), 5000);
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new BadVideoTests.PathRow(good), new BadVideoTests.PathRow(bad), new BadVideoTests.PathRow(good) });
        var options = new VideoLoaderOptions { Decode = Small, OnInvalidVideo = InvalidVideoHandling.Skip, Isolation = VideoDecodeIsolation.WorkerProcess };
        var loaded = ml.Data.SkipEmptyVideos(ml.Transforms.LoadVideo("Frames", "Path", options).Fit(data).Transform(data), "Frames");
        var expected = InProcess(good, Small);
        int rows = 0;
        using (var cursor = loaded.GetRowCursor(loaded.Schema))
        {
            var getter = cursor.GetGetter<VideoFrames>(loaded.Schema["Frames"]);
            var frames = new VideoFrames();
            while (cursor.MoveNext())
            {
                getter(ref frames);
                AssertSame(expected, frames);
                rows++;
            }
        }
        Assert.Equal(2, rows);
        Assert.Null(WorkerOfThisProcess()); // the cursor's worker ended with it
    }

    private static void Signal(string signal, int pid) => Process.Start("kill", [$"-{signal}", pid.ToString()])!.WaitForExit();

    /// <summary>The pid of a decoding worker that this process started, if one is running.</summary>
    private static int? WorkerOfThisProcess()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (parent == Environment.ProcessId && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("I3D.MLNet.VideoWorker.dll")) return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
        }
        return null;
    }
}

/// <summary>The test classes that start decoding workers, run one after another: a test here checks that no worker of
/// this process is left, which another class's worker running at the same time would fail (seen once in CI).</summary>
[CollectionDefinition(Collection)]
public sealed class DecodeWorkers
{
    public const string Collection = "decoding workers";
}
