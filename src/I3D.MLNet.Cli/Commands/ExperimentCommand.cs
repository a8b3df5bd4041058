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
        var data = new Option<string>("--data") { Description = $"The labelled videos: {SplitArguments.Takes}", Required = true };
        var splits = new SplitArguments("--data");
        var shared = new ExperimentArguments("architectures.md, .json, .svg");
        var command = new Command("architectures", "Train each architecture with the paper's streams and clips and compare RGB / flow / RGB + flow accuracy (Table 2)") { data };
        splits.AddTo(command);
        shared.AddTo(command);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string report = parse.GetValue(shared.Output)!;
            var videos = splits.Load(parse, parse.GetValue(data)!);
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
        var target = new Option<string>("--target") { Description = $"The small dataset to transfer to: {SplitArguments.Takes}", Required = true };
        var splits = new SplitArguments("--target");
        var perClass = new Option<int?>("--target-per-class") { Description = "Train on the first N target training videos of each class (default: all)" };
        var sourceEpochs = new Option<int?>("--source-epochs") { Description = "Passes over the source videos when pre-training on a folder (default: --epochs)" };
        var shared = new ExperimentArguments("transfer.md, .json, .svg", "the paper's five; i3d for weights files");
        var command = new Command("transfer", "Original (target only, from scratch) vs Fixed (pre-trained, only the last layer trained) vs Full-FT (pre-trained, all fine-tuned) per architecture and stream (Table 4)")
        {
            source, target, perClass, sourceEpochs,
        };
        splits.AddTo(command);
        shared.AddTo(command);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string report = parse.GetValue(shared.Output)!;
            var from = TransferSource.FromPaths(parse.GetValue(source)!);
            var chosen = shared.Chosen(parse, from.Folder is null ? [VideoBackbones.InceptionI3d] : VideoBackbones.Paper);
            var settings = new TransferSettings(shared.Read(parse), parse.GetValue(sourceEpochs), parse.GetValue(perClass));
            using var bar = new TrainingProgressBar();
            var results = TransferExperiment.Run(from, splits.Load(parse, parse.GetValue(target)!), report, chosen, settings, Console.Error, bar);
            shared.Print(parse, TransferExperiment.WriteReport(report, results), TransferExperiment.Json(results));
            return 0;
        }));
        return command;
    }
}
