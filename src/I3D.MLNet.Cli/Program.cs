return I3D.MLNet.Cli.CliApp.Run(args);
