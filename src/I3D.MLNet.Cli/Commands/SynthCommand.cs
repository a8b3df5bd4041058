using System.CommandLine;
using I3D.MLNet.Datasets;

namespace I3D.MLNet.Cli.Commands;

/// <summary>
/// <c>i3d synth --out DIR --per-class N</c>: the synthetic motion dataset (class only in the motion), or with
/// <c>--families</c> / <c>--transfer</c> the benchmark whose class families need different evidence (<see cref="SyntheticActions"/>).
/// </summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder to write DIR/train/<class>/*.avi and DIR/test/<class>/*.avi", Required = true };
        var perClass = new Option<int>("--per-class") { Description = "Training videos per class (test: half as many)", DefaultValueFactory = _ => 16 };
        var testPerClass = new Option<int?>("--test-per-class") { Description = "Test videos per class (default: half of --per-class)" };
        var frames = new Option<int>("--video-frames") { Description = "Frames per video", DefaultValueFactory = _ => 32 };
        var size = new Option<int>("--frame-size") { Description = "Frame width and height of the videos (default 128; 64 with --families or --transfer)", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var classes = new Option<int>("--classes") { Description = "4: the four directions of movement; 6: also turning both ways (the motion dataset only)", DefaultValueFactory = _ => 6 };
        var families = new ChoiceListOption<SyntheticActionFamilies>("--families",
            $"Write the benchmark whose classes need different evidence instead, with these families (comma list): {Describe("appearance")}; {Describe("direction")}; {Describe("order")}",
            ("appearance", SyntheticActionFamilies.Appearance), ("direction", SyntheticActionFamilies.Direction), ("order", SyntheticActionFamilies.Order));
        var transfer = new Option<bool>("--transfer") { Description = $"Write the benchmark's transfer-target classes instead ({string.Join(", ", SyntheticActions.Families[SyntheticActions.TransferFamily])})" };
        var command = new Command("synth", $"Write a synthetic motion dataset ({string.Join(", ", SyntheticMotion.Classes)}), or with --families the class-family benchmark") { output, perClass, testPerClass };
        command.AddRenamed(frames, "--frames");
        command.AddRenamed(size, "--size");
        command.Options.Add(seed);
        command.Options.Add(classes);
        command.Options.Add(families);
        command.Options.Add(transfer);
        command.Validators.Add(result =>
        {
            bool benchmark = result.GetResult(families) is { Implicit: false }, transferGiven = result.GetResult(transfer) is { Implicit: false };
            if (benchmark && transferGiven) result.AddError("give --families or --transfer, not both (the transfer classes are a dataset of their own)");
            if ((benchmark || transferGiven) && result.GetResult(classes) is { Implicit: false })
                result.AddError("--classes is for the motion dataset; --families chooses the benchmark's classes");
        });
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            string directory = parse.GetValue(output)!;
            using var progress = new ConsoleProgress();
            var report = new Progress<(int Done, int Total)>(p => progress.Report((p.Done, p.Total, "synth")));
            var chosen = families.Read(parse);
            int n;
            if (chosen.Count > 0 || parse.GetValue(transfer))
            {
                var defaults = new SyntheticActionsOptions();
                var options = new SyntheticActionsOptions
                {
                    PerClass = parse.GetValue(perClass), TestPerClass = parse.GetValue(testPerClass), Frames = parse.Value(frames),
                    Size = OldSpellings.Given(parse, size) ? parse.Value(size) : defaults.Size, Seed = parse.GetValue(seed),
                    Families = chosen.Aggregate(SyntheticActionFamilies.None, (all, f) => all | f), Transfer = parse.GetValue(transfer),
                };
                n = SyntheticActions.Write(directory, options, report);
            }
            else
            {
                var options = new SyntheticMotionOptions
                {
                    PerClass = parse.GetValue(perClass), TestPerClass = parse.GetValue(testPerClass), Frames = parse.Value(frames),
                    Size = parse.Value(size), Seed = parse.GetValue(seed), Classes = parse.GetValue(classes),
                };
                n = SyntheticMotion.Write(directory, options, report);
            }
            Console.Error.WriteLine($"synth: wrote {n} videos to {directory}");
            return 0;
        }));
        return command;
    }

    private static string Describe(string family) => $"{family} ({string.Join(", ", SyntheticActions.Families[family])})";
}
