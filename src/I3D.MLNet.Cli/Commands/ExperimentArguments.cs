using System.CommandLine;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Experiments;

namespace I3D.MLNet.Cli.Commands;

/// <summary>The options every <c>i3d experiment</c> shares: the report folder, the architectures and the training settings.</summary>
internal sealed class ExperimentArguments(string files, string defaultArchitectures = "the paper's five")
{
    public Option<string> Output { get; } = new("--out") { Description = $"Report folder: {files}, and the cached cells and checkpoints a killed run resumes from", Required = true };
    public ChoiceListOption<VideoBackbone> Architectures { get; } = new("--architectures", $"Which architectures (default: {defaultArchitectures})", [.. VideoBackbones.All.Select(b => (b.CliName, b))]);
    /// <summary>The library's defaults: the settings measured in docs/experiments.md (under 30 minutes on 2 cores on i3d synth's benchmark).</summary>
    private static readonly ExperimentSettings Defaults = new();

    public Option<int> Epochs { get; } = new("--epochs") { Description = "Passes over the training videos", DefaultValueFactory = _ => Defaults.Epochs };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Clips per SGD step", DefaultValueFactory = _ => Defaults.BatchSize };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "SGD learning rate (momentum 0.9)", DefaultValueFactory = _ => Defaults.LearningRate };
    public Option<int> PatienceSteps { get; } = CliOptions.PatienceSteps();
    public Option<int?> Crop { get; } = new("--crop-size") { Description = $"Crop height and width of the clips, for the architectures that take any (default: {Defaults.CropSize}; --paper-clips for Table 1's)" };
    public Option<int?> Frames { get; } = new("--clip-frames") { Description = $"Frames per clip, for the architectures that take any (default: {Defaults.ClipFrames}; --paper-clips for Table 1's)" };
    public Option<bool> PaperClips { get; } = new("--paper-clips")
    {
        Description = "Each architecture's own clips of Table 1 (I3D 64 x 224 x 224, C3D 16 x 112 x 112, ...) instead of the defaults' small ones: for real videos, hours on a CPU",
    };
    public Option<int> Seed { get; } = new("--seed") { Description = "Random seed (same seed, same table)", DefaultValueFactory = _ => 1 };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads for libtorch (0: one per core)", DefaultValueFactory = _ => 0 };
    public Option<bool> Json { get; } = new("--json") { Description = "Print the results as JSON on stdout" };
    public Option<string[]> ImageNet { get; } = new("--imagenet")
    {
        Description = "ImageNet weights the architectures that have an ImageNet start begin from (section 2): a torchvision GoogLeNet state_dict (I3D inflated, the 2-D Inception-v1 towers as they are) "
            + "and/or ResNet18.onnx (the ResNet-18 ones; NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18); others train from scratch (default: all from scratch)",
        Arity = new ArgumentArity(1, 2),
    };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Output, Architectures, Epochs, BatchSize, LearningRate, PatienceSteps, Crop, Frames, PaperClips, Seed, Threads, ImageNet, Json }) command.Options.Add(o);
        command.Validators.Add(result =>
        {
            if (result.GetValue(PaperClips) && (result.GetResult(Crop) is { Implicit: false } || result.GetResult(Frames) is { Implicit: false }))
                result.AddError("give --paper-clips or --crop-size / --clip-frames, not both (--paper-clips takes each architecture's Table 1 clips)");
        });
    }

    /// <summary>The architectures given, else <paramref name="defaults"/>.</summary>
    public IReadOnlyList<VideoBackbone> Chosen(ParseResult parse, IReadOnlyList<VideoBackbone> defaults) => Architectures.Read(parse) is { Count: > 0 } list ? list : defaults;

    public ExperimentSettings Read(ParseResult parse)
    {
        var imageNet = parse.GetValue(ImageNet) ?? [];
        foreach (var file in imageNet)
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no such ImageNet weights file (--imagenet)", file);
        bool paper = parse.GetValue(PaperClips);
        return new(parse.GetValue(Epochs), parse.GetValue(BatchSize), parse.GetValue(LearningRate), paper ? null : parse.GetValue(Crop) ?? Defaults.CropSize,
            paper ? null : parse.GetValue(Frames) ?? Defaults.ClipFrames, parse.GetValue(Seed), parse.GetValue(Threads), imageNet.Length == 0 ? null : [.. imageNet.Select(Path.GetFullPath)],
            parse.GetValue(PatienceSteps));
    }

    /// <summary>The report as the command prints it: JSON with --json, else the Markdown table; and where the files went (stderr).</summary>
    public void Print(ParseResult parse, string markdownFile, string json)
    {
        Console.Write(parse.GetValue(Json) ? json + Environment.NewLine : File.ReadAllText(markdownFile));
        Console.Error.WriteLine($"experiment: wrote {markdownFile}, .json and .svg");
    }
}
