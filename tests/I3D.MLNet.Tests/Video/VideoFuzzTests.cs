using I3D.MLNet.Fuzz;
using I3D.MLNet.Testing;
using I3D.MLNet.Video;
using Xunit.Abstractions;

namespace I3D.MLNet.Tests.Video;

/// <summary>
/// A bounded run of the video fuzzer (tests/I3D.MLNet.Fuzz; I3D_FUZZ_ITERATIONS sets the count, default 24, fixed
/// seed): mutated videos through LoadVideo (worker isolation, as <c>i3d train --skip-invalid</c> decodes) ->
/// ExtractOpticalFlow -> SampleClips, each in a child process with a time and memory limit. Every file either gives
/// finite clips or an error that names it; none crashes, hangs or passes the memory limit.
/// </summary>
[Collection(DecodeWorkers.Collection)]
public class VideoFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void MutatedVideosGiveFramesOrAnErrorNamingTheFileNeverACrashOrHang()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("I3D_FUZZ_ITERATIONS"), out int n) ? n : 24;
        var settings = new FuzzSettings(iterations, Seed: 1, VideoDecodeIsolation.WorkerProcess, SharedData.Available ? SharedData.Videos : null,
            TestVideos.TempDir("fuzz"), TimeoutSeconds: 120, MemoryLimitMegabytes: 3072);
        var progress = new StringWriter();
        var outcomes = VideoFuzzer.Run(settings, progress);
        output.WriteLine(progress.ToString());
        output.WriteLine(VideoFuzzer.Table(outcomes));

        var bad = outcomes.Where(o => o.Verdict is not (VideoFuzzer.Success or VideoFuzzer.CleanError)).ToList();
        Assert.True(bad.Count == 0, string.Join("\n", bad.Select(o => $"{o.Source} {o.Kind} ({o.Description}): {o.Verdict}: {o.Detail}")));
        // The mutations reach both outcomes: files that still decode and files that are refused.
        Assert.Contains(outcomes, o => o.Verdict == VideoFuzzer.Success);
        Assert.Contains(outcomes, o => o.Verdict == VideoFuzzer.CleanError);
    }
}
