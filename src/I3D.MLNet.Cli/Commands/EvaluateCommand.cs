using System.CommandLine;
using I3D.MLNet.ModelZip;
using Microsoft.ML;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d evaluate --model model.zip --data DIR [--json]</c>.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var data = new DatasetArguments();
        var model = new Option<string>("--model") { Description = "Model zip from i3d train", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {\"accuracy\",\"top5\",\"perClass\",\"confusion\"} as one JSON object" };
        var command = new Command("evaluate", "Accuracy, top-5, per-class accuracy and confusion matrix of a model on labelled videos");
        foreach (var o in data.All.Append(model).Append(json)) command.Options.Add(o);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            var dataset = data.Load(parse, train: false);
            var ml = new MLContext(0);
            var loaded = ModelZipFile.Load(ml, parse.GetValue(model)!, out _);
            using var progress = new ConsoleProgress();
            var report = EvaluationReport.Compute(ml, loaded, dataset, progress);
            if (parse.GetValue(json)) Console.WriteLine(report.ToJson());
            else report.Print(Console.Out);
            return 0;
        }));
        return command;
    }
}
