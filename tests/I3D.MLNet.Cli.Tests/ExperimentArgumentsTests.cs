using System.CommandLine;
using I3D.MLNet.Cli.Commands;
using I3D.MLNet.Torch.Experiments;

namespace I3D.MLNet.Cli.Tests;

/// <summary>The experiments' settings as the command line reads them: the library's measured defaults, or Table 1's clips.</summary>
public sealed class ExperimentArgumentsTests
{
    private static (ExperimentSettings? Settings, IReadOnlyList<string> Errors) Read(params string[] args)
    {
        var arguments = new ExperimentArguments("a report");
        var command = new Command("architectures");
        arguments.AddTo(command);
        var parse = command.Parse(["--out", "report", .. args]);
        return parse.Errors.Count > 0 ? (null, [.. parse.Errors.Select(e => e.Message)]) : (arguments.Read(parse), []);
    }

    [Fact]
    public void NoOptionsAreTheLibrarysMeasuredDefaults()
    {
        var (settings, errors) = Read();
        Assert.Empty(errors);
        // The settings docs/experiments.md measures: 10 epochs of batches of 8 at lr 0.001, 16 x 56 x 56 clips.
        Assert.Equal(new ExperimentSettings(), settings);
        Assert.Equal((10, 8, 0.001, 56, 16), (settings!.Epochs, settings.BatchSize, settings.LearningRate, settings.CropSize, settings.ClipFrames));
    }

    [Fact]
    public void GivenClipsOverrideOneAtATimeAndPaperClipsAreTable1s()
    {
        Assert.Equal((112, (int?)16), Clips(Read("--crop-size", "112").Settings!));
        Assert.Equal((56, (int?)64), Clips(Read("--clip-frames", "64").Settings!));
        var (paper, errors) = Read("--paper-clips");
        Assert.Empty(errors);
        Assert.Equal((null, (int?)null), Clips(paper!));
        Assert.Equal(64, paper!.Clips(I3D.MLNet.Torch.Backbones.VideoBackbones.InceptionI3d).Frames); // Table 1: I3D 64 x 224 x 224
        Assert.Equal(224, paper.Clips(I3D.MLNet.Torch.Backbones.VideoBackbones.InceptionI3d).Size);

        foreach (var both in new[] { new[] { "--paper-clips", "--crop-size", "112" }, ["--clip-frames", "8", "--paper-clips"] })
            Assert.Contains("give --paper-clips or --crop-size / --clip-frames, not both", Assert.Single(Read(both).Errors));

        static (int?, int?) Clips(ExperimentSettings s) => (s.CropSize, s.ClipFrames);
    }
}
