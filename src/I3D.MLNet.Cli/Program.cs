using System.CommandLine;
using I3D.MLNet.Cli.Commands;

var root = new RootCommand("i3d: video action recognition with I3D (Carreira & Zisserman, CVPR 2017) for .NET and ML.NET");
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(ClipsCommand.Create());
root.Subcommands.Add(PredictCommand.Create());
root.Subcommands.Add(SynthCommand.Create());
root.Subcommands.Add(FlowCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(EvaluateCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ExportOnnxCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line, as every other error of the tool; --help shows the usage.
    string command = string.Join(' ', parsed.CommandResult.Command.Name == root.Name ? [] : new[] { parsed.CommandResult.Command.Name });
    Console.Error.WriteLine($"i3d{(command.Length > 0 ? " " + command : "")}: {System.Text.RegularExpressions.Regex.Replace(string.Join("; ", parsed.Errors.Select(e => e.Message)), @"\s+", " ")} (see i3d {command}{(command.Length > 0 ? " " : "")}--help)");
    return 2;
}
return parsed.Invoke();
