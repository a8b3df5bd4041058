using System.CommandLine;
using I3D.MLNet.Cli.Commands;

var root = new RootCommand("I3D video action recognition (Carreira and Zisserman, CVPR 2017) for .NET");
root.Subcommands.Add(PredictCommand.Create());
return root.Parse(args).Invoke();
