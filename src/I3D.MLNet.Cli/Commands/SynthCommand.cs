using System.CommandLine;
using I3D.MLNet.Datasets;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d synth --out DIR --per-class N</c>: the synthetic motion dataset (class only in the motion).</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder to write DIR/train/<class>/*.avi and DIR/test/<class>/*.avi", Required = true };
        var perClass = new Option<int>("--per-class") { Description = "Training videos per class (test: half as many)", DefaultValueFactory = _ => 16 };
        var testPerClass = new Option<int?>("--test-per-class") { Description = "Test videos per class (default: half of --per-class)" };
        var frames = new Option<int>("--video-frames") { Description = "Frames per video", DefaultValueFactory = _ => 32 };
        var size = new Option<int>("--frame-size") { Description = "Frame width and height of the videos", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var classes = new Option<int>("--classes") { Description = "4: the four directions of movement; 6: also turning both ways", DefaultValueFactory = _ => 6 };
        var command = new Command("synth", $"Write a synthetic motion dataset ({string.Join(", ", SyntheticMotion.Classes)})") { output, perClass, testPerClass };
        command.AddRenamed(frames, "--frames");
        command.AddRenamed(size, "--size");
        command.Options.Add(seed);
        command.Options.Add(classes);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            var options = new SyntheticMotionOptions
            {
                PerClass = parse.GetValue(perClass), TestPerClass = parse.GetValue(testPerClass), Frames = parse.Value(frames),
                Size = parse.Value(size), Seed = parse.GetValue(seed), Classes = parse.GetValue(classes),
            };
            using var progress = new ConsoleProgress();
            int n = SyntheticMotion.Write(parse.GetValue(output)!, options, new Progress<(int Done, int Total)>(p => progress.Report((p.Done, p.Total, "synth"))));
            Console.Error.WriteLine($"synth: wrote {n} videos to {parse.GetValue(output)}");
            return 0;
        }));
        return command;
    }
}
