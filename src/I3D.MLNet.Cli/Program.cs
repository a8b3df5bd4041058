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
return root.Parse(args).Invoke();
