using System.CommandLine;
using I3D.MLNet.Datasets;
using I3D.MLNet.Torch.Experiments;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// The experiments' training and test videos from one path (<paramref name="dataOption"/>): a folder with
/// <c>train/&lt;class&gt;/</c> and <c>test/&lt;class&gt;/</c>, UCF-101's classInd.txt with <c>--ucf-split N</c>, or a
/// folder of HMDB-51 split files with <c>--hmdb-split N</c>; split files need <c>--video-root</c>.
/// </summary>
internal sealed class SplitArguments(string dataOption)
{
    public Option<int?> UcfSplit { get; } = new("--ucf-split") { Description = $"UCF-101 split number (1-3) for {dataOption} classInd.txt: trainlist0N.txt and testlist0N.txt beside it" };
    public Option<int?> HmdbSplit { get; } = DatasetArguments.HmdbSplitOption(dataOption);
    public Option<string?> VideoRoot { get; } = DatasetArguments.VideoRootOption();

    /// <summary>What the path option's help says it takes.</summary>
    public static string Takes => "a folder with train/<class>/ and test/<class>/ videos (i3d synth writes one), UCF-101's classInd.txt (with --ucf-split) or a folder of HMDB-51 split files (with --hmdb-split)";

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { UcfSplit, HmdbSplit, VideoRoot }) command.Options.Add(o);
        command.Validators.Add(result =>
        {
            foreach (var (option, name) in new[] { (UcfSplit, "UCF-101"), (HmdbSplit, "HMDB-51") })
                if (result.GetValue(option) is { } n and (< 1 or > 3)) result.AddError($"{option.Name} {n}: {name} has splits 1, 2 and 3");
            bool ucf = result.GetResult(UcfSplit) is { Implicit: false }, hmdb = result.GetResult(HmdbSplit) is { Implicit: false };
            if (ucf && hmdb) result.AddError("give --ucf-split or --hmdb-split, not both");
            else if ((ucf || hmdb) && result.GetResult(VideoRoot) is null) result.AddError($"{(ucf ? "--ucf-split" : "--hmdb-split")} needs --video-root (the folder of the class folders of videos)");
            else if (!ucf && !hmdb && result.GetResult(VideoRoot) is not null) result.AddError("--video-root is for split files (--ucf-split or --hmdb-split)");
        });
    }

    /// <summary>The training and test videos <paramref name="path"/> names, as the split options say to read it.</summary>
    public (VideoDataset Train, VideoDataset Test) Load(ParseResult parse, string path)
        => parse.GetValue(UcfSplit) is { } ucf ? ExperimentData.FromUcf101(path, ucf, parse.GetValue(VideoRoot)!)
            : parse.GetValue(HmdbSplit) is { } hmdb ? ExperimentData.FromHmdb51(path, hmdb, parse.GetValue(VideoRoot)!)
            : ExperimentData.Load(path);
}
