using System.CommandLine;
using I3D.MLNet.Cli.Experiments;
using I3D.MLNet.Torch.Backbones;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d experiment architectures --data DIR --out REPORT_DIR [--architectures ...]</c>: the paper's Table 2 on one's own data.</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("experiment", "The paper's experiments on your data: architectures (Table 2)");
        command.Subcommands.Add(Architectures());
        return command;
    }

    private static Command Architectures()
    {
        var data = new Option<string>("--data") { Description = "Folder with train/<class>/ and test/<class>/ videos (i3d synth writes one)", Required = true };
        var output = new Option<string>("--out") { Description = "Report folder: architectures.md, .json, .svg, and the cached cells and checkpoints a killed run resumes from", Required = true };
        var architectures = new ChoiceListOption<VideoBackbone>("--architectures", "Which architectures (default: all)", [.. VideoBackbones.All.Select(b => (b.CliName, b))]);
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training videos", DefaultValueFactory = _ => 4 };
        var batchSize = new Option<int>("--batch-size") { Description = "Clips per SGD step", DefaultValueFactory = _ => 8 };
        var learningRate = new Option<double>("--lr") { Description = "SGD learning rate (momentum 0.9)", DefaultValueFactory = _ => 0.01 };
        var crop = new Option<int?>("--crop-size") { Description = "Crop height and width of the clips, for the architectures that take any (default: Table 1's)" };
        var frames = new Option<int?>("--clip-frames") { Description = "Frames per clip, for the architectures that take any (default: Table 1's)" };
        var seed = new Option<int>("--seed") { Description = "Random seed (same seed, same table)", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch (0: one per core)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON on stdout" };
        var command = new Command("architectures", "Train each architecture with the paper's streams and clips and compare RGB / flow / RGB + flow accuracy (Table 2)")
        {
            data, output, architectures, epochs, batchSize, learningRate, crop, frames, seed, threads, json,
        };
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string dir = parse.GetValue(data)!, report = parse.GetValue(output)!;
            if (!Directory.Exists(Path.Combine(dir, "train")) || !Directory.Exists(Path.Combine(dir, "test")))
                throw new DirectoryNotFoundException($"{dir}: needs train/<class>/ and test/<class>/ folders of videos (i3d synth --out {dir} writes them)");
            var chosen = architectures.Read(parse) is { Count: > 0 } list ? list : VideoBackbones.All;
            var settings = new ExperimentSettings(parse.GetValue(epochs), parse.GetValue(batchSize), parse.GetValue(learningRate), parse.GetValue(crop), parse.GetValue(frames),
                parse.GetValue(seed), parse.GetValue(threads));
            using var bar = new TrainingProgressBar();
            var cells = ArchitectureExperiment.Run(dir, report, chosen, settings, Console.Error, bar);
            int classes = cells.SelectMany(c => c.PerClass.Keys).Distinct().Count();
            string markdown = ArchitectureExperiment.Markdown(cells);
            File.WriteAllText(Path.Combine(report, "architectures.md"), markdown);
            File.WriteAllText(Path.Combine(report, "architectures.json"), ArchitectureExperiment.Json(cells));
            File.WriteAllText(Path.Combine(report, "architectures.svg"), ArchitectureExperiment.Svg(cells, classes));
            if (parse.GetValue(json)) Console.WriteLine(ArchitectureExperiment.Json(cells));
            else Console.Write(markdown);
            Console.Error.WriteLine($"experiment: wrote {Path.Combine(report, "architectures.md")}, .json and .svg");
            return 0;
        }));
        return command;
    }
}
