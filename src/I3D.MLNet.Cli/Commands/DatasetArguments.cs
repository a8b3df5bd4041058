using System.CommandLine;
using I3D.MLNet.Datasets;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>--data</c> as the training and evaluation commands take it: a folder with one sub-folder per class, UCF-101's
/// classInd.txt with <c>--list trainlist01.txt</c>, or a folder of HMDB-51 split files with <c>--hmdb-split N</c>;
/// split files need <c>--video-root</c>, the folder holding the class folders of videos.
/// </summary>
internal sealed class DatasetArguments
{
    public Option<string> Data { get; } = new("--data") { Description = "DIR/<class>/<video>, UCF-101 classInd.txt (with --list) or a folder of HMDB-51 split files (with --hmdb-split)", Required = true };
    public Option<string?> List { get; } = new("--list") { Description = "UCF-101 train or test list (trainlist01.txt / testlist01.txt) for --data classInd.txt" };
    public Option<int?> HmdbSplit { get; } = HmdbSplitOption("--data");
    public Option<string?> VideoRoot { get; } = VideoRootOption();

    /// <summary><c>--hmdb-split</c> for the path option <paramref name="dataOption"/> (the experiments share it).</summary>
    public static Option<int?> HmdbSplitOption(string dataOption) => new("--hmdb-split") { Description = $"HMDB-51 split number (1-3) for {dataOption} SPLIT_DIR" };

    /// <summary><c>--video-root</c> (the experiments share it).</summary>
    public static Option<string?> VideoRootOption() => new("--video-root") { Description = "Folder of the class folders of videos, for split files" };

    public IEnumerable<Option> All => [Data, List, HmdbSplit, VideoRoot];

    /// <summary>
    /// For commands that also take a plain <c>--list</c> of videos without <c>--data</c> (<c>i3d extract</c>): <c>--data</c>
    /// becomes optional, and <c>--list FILE</c> alone is one video path per line (relative to <c>--video-root</c>, by
    /// default the list's folder), optionally followed by its class name.
    /// </summary>
    public static DatasetArguments WithPlainList()
    {
        var arguments = new DatasetArguments();
        arguments.Data.Required = false;
        arguments.Data.Description = "DIR/<class>/<video>, UCF-101 classInd.txt (with --list) or a folder of HMDB-51 split files (with --hmdb-split); or none, with a plain --list";
        arguments.List.Description = "UCF-101 train or test list for --data classInd.txt; without --data, a plain list: one video path per line (relative to --video-root, default the list's folder), optionally its class name after a space";
        return arguments;
    }

    /// <summary>The folder video ids are relative to: --video-root, else --data (a folder of class folders), else the plain list's folder.</summary>
    public string Root(ParseResult parse)
        => parse.GetValue(VideoRoot) ?? (parse.GetValue(Data) is { } data ? data : Path.GetDirectoryName(Path.GetFullPath(parse.GetValue(List)!))!);

    /// <summary>Loads the dataset; <paramref name="train"/> picks HMDB-51's training or test videos.</summary>
    public VideoDataset Load(ParseResult parse, bool train)
    {
        string? data = parse.GetValue(Data);
        string? list = parse.GetValue(List), root = parse.GetValue(VideoRoot);
        int? split = parse.GetValue(HmdbSplit);
        if (data is null)
            return list is not null && split is null ? VideoDataset.FromList(list, Root(parse)) : throw new ArgumentException("give --data DIR (or a plain --list FILE)");
        if (list != null)
            return VideoDataset.FromUcf101(data, list, root ?? throw new ArgumentException("--list needs --video-root (the folder of the UCF-101 class folders)"));
        if (split != null)
            return VideoDataset.FromHmdb51(data, split.Value, train, root ?? throw new ArgumentException("--hmdb-split needs --video-root (the folder of the HMDB-51 class folders)"));
        if (File.Exists(data)) throw new ArgumentException($"{data} is a file: a UCF-101 classInd.txt needs --list and --video-root");
        return VideoDataset.FromFolder(data);
    }
}
