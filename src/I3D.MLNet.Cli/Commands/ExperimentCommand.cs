using System.CommandLine;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Experiments;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>i3d experiment architectures --data DIR --out REPORT_DIR</c> (the paper's Table 2) and <c>i3d experiment transfer
/// --source DIR|WEIGHTS --target DIR --out REPORT_DIR</c> (Table 4) on one's own data; the engine is
/// <see cref="ArchitectureExperiment"/> and <see cref="TransferExperiment"/> in the library (notebooks run it too).
/// </summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("experiment", "The paper's experiments on your data: architectures (Table 2), transfer (Table 4)");
        command.Subcommands.Add(Architectures());
        command.Subcommands.Add(Transfer());
        return command;
    }

    private static Command Architectures()
    {
        var data = new Option<string>("--data")
        {
            Description = "Folder with train/<class>/ and test/<class>/ videos (i3d synth writes one), UCF-101's classInd.txt (with --ucf-split) or a folder of HMDB-51 split files (with --hmdb-split)",
            Required = true,
        };
        var ucfSplit = new Option<int?>("--ucf-split") { Description = "UCF-101 split number (1-3) for --data classInd.txt: trainlist0N.txt and testlist0N.txt beside it" };
        var hmdbSplit = new Option<int?>("--hmdb-split") { Description = "HMDB-51 split number (1-3) for --data SPLIT_DIR" };
        var videoRoot = new Option<string?>("--video-root") { Description = "Folder of the class folders of videos, for split files" };
        var shared = new ExperimentArguments("architectures.md, .json, .svg");
        var command = new Command("architectures", "Train each architecture with the paper's streams and clips and compare RGB / flow / RGB + flow accuracy (Table 2)")
        {
            data, ucfSplit, hmdbSplit, videoRoot,
        };
        shared.AddTo(command);
        command.Validators.Add(result =>
        {
            bool ucf = result.GetResult(ucfSplit) is { Implicit: false }, hmdb = result.GetResult(hmdbSplit) is { Implicit: false };
            foreach (var (option, name) in new[] { (ucfSplit, "UCF-101"), (hmdbSplit, "HMDB-51") })
                if (result.GetValue(option) is { } n and (< 1 or > 3)) result.AddError($"{option.Name} {n}: {name} has splits 1, 2 and 3");
            if (ucf && hmdb) result.AddError("give --ucf-split or --hmdb-split, not both");
            else if ((ucf || hmdb) && result.GetResult(videoRoot) is null) result.AddError($"{(ucf ? "--ucf-split" : "--hmdb-split")} needs --video-root (the folder of the class folders of videos)");
            else if (!ucf && !hmdb && result.GetResult(videoRoot) is not null) result.AddError("--video-root is for split files (--ucf-split or --hmdb-split)");
        });
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string report = parse.GetValue(shared.Output)!, dataPath = parse.GetValue(data)!;
            var videos = parse.GetValue(ucfSplit) is { } ucf ? ExperimentData.FromUcf101(dataPath, ucf, parse.GetValue(videoRoot)!)
                : parse.GetValue(hmdbSplit) is { } hmdb ? ExperimentData.FromHmdb51(dataPath, hmdb, parse.GetValue(videoRoot)!)
                : ExperimentData.Load(dataPath);
            using var bar = new TrainingProgressBar();
            var cells = ArchitectureExperiment.Run(videos, report, shared.Chosen(parse, VideoBackbones.Paper), shared.Read(parse), Console.Error, bar);
            shared.Print(parse, ArchitectureExperiment.WriteReport(report, cells), ArchitectureExperiment.Json(cells));
            return 0;
        }));
        return command;
    }

    private static Command Transfer()
    {
        var source = new Option<string[]>("--source")
        {
            Description = "What to pre-train on: a folder with train/<class>/ and test/<class>/ videos (each architecture is first trained on it), "
                + "or InceptionI3d weights, one file per stream (--source rgb_imagenet.pt --source flow_imagenet.pt: pytorch-i3d state_dicts or kinetics-i3d checkpoints)",
            Required = true, Arity = new ArgumentArity(1, 2),
        };
        var target = new Option<string>("--target") { Description = "The small dataset to transfer to: a folder with train/<class>/ and test/<class>/ videos", Required = true };
        var perClass = new Option<int?>("--target-per-class") { Description = "Train on the first N target training videos of each class (default: all)" };
        var sourceEpochs = new Option<int?>("--source-epochs") { Description = "Passes over the source videos when pre-training on a folder (default: --epochs)" };
        var shared = new ExperimentArguments("transfer.md, .json, .svg", "the paper's five; i3d for weights files");
        var command = new Command("transfer", "Original (target only, from scratch) vs Fixed (pre-trained, only the last layer trained) vs Full-FT (pre-trained, all fine-tuned) per architecture and stream (Table 4)")
        {
            source, target, perClass, sourceEpochs,
        };
        shared.AddTo(command);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string report = parse.GetValue(shared.Output)!;
            var from = TransferSource.FromPaths(parse.GetValue(source)!);
            var chosen = shared.Chosen(parse, from.Folder is null ? [VideoBackbones.InceptionI3d] : VideoBackbones.Paper);
            var settings = new TransferSettings(shared.Read(parse), parse.GetValue(sourceEpochs), parse.GetValue(perClass));
            using var bar = new TrainingProgressBar();
            var results = TransferExperiment.Run(from, parse.GetValue(target)!, report, chosen, settings, Console.Error, bar);
            shared.Print(parse, TransferExperiment.WriteReport(report, results), TransferExperiment.Json(results));
            return 0;
        }));
        return command;
    }
}
