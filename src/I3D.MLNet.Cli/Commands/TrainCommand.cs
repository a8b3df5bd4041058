using System.CommandLine;
using I3D.MLNet.Datasets;
using I3D.MLNet.IO;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;

namespace I3D.MLNet.Cli.Commands;

/// <summary><c>i3d train --data DIR --out model.zip</c>: fine-tune (or train) two-stream I3D; the zip holds the whole pipeline.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new DatasetArguments();
        var training = new TrainingArguments();
        var output = new Option<string>("--out") { Description = "Model zip to write (the whole pipeline: video -> clips -> I3D)", Required = true };
        var command = new Command("train", "Train or fine-tune I3D on labelled videos and save the pipeline as an ML.NET model zip");
        foreach (var o in data.All) command.Options.Add(o);
        training.AddTo(command);
        command.Options.Add(output);
        command.SetAction(parse => CliRunner.Run(parse, () =>
        {
            var dataset = data.Load(parse, train: true);
            using var bar = new TrainingProgressBar();
            var (clips, trainer) = training.Read(parse, bar);
            Train(dataset, clips, trainer, parse.GetValue(output)!, Console.Error);
            return 0;
        }));
        return command;
    }

    /// <summary>Fits the pipeline on <paramref name="dataset"/> and saves it; returns the fitted model.</summary>
    public static ITransformer Train(VideoDataset dataset, ClipPipelineOptions clips, I3DTrainerOptions trainer, string zip, TextWriter log)
    {
        var ml = new MLContext(trainer.Seed);
        TrainerLog.WriteTo(ml, log);
        log.WriteLine($"train: {dataset.Videos.Count} videos, {dataset.Classes.Count} classes ({string.Join(", ", dataset.Classes.Take(8))}{(dataset.Classes.Count > 8 ? ", ..." : "")}), "
            + $"{clips.Streams} stream(s), {clips.Frames}x{clips.Size}x{clips.Size} clips, {trainer.Epochs} epochs");
        var data = VideoClassification.MapLabels(ml, dataset, dataset.Classes);
        var model = VideoClassification.Create(ml, clips, trainer).Fit(data);
        SaveModel(ml, model, dataset.ToDataView(ml).Schema, zip);
        log.WriteLine($"train: saved {zip} ({new FileInfo(zip).Length / 1e6:0.0} MB)");
        return model;
    }

    /// <summary>Writes an ML.NET model zip (<see cref="AtomicFile"/>): a failure (a full disk) leaves the zip that was
    /// there as it was, and its <see cref="IOException"/> names the zip and says when the disk is full.</summary>
    internal static void SaveModel(MLContext ml, ITransformer model, DataViewSchema schema, string zip)
        => AtomicFile.Write(zip, stream => ml.Model.Save(model, schema, stream));
}

/// <summary>Training progress on stderr: a bar while stderr is a terminal, one line per epoch otherwise.</summary>
internal sealed class TrainingProgressBar : IProgress<I3DTrainingProgress>, IDisposable
{
    private readonly ConsoleProgress _bar = new();

    public void Report(I3DTrainingProgress p)
    {
        if (p.Phase == "epoch") Console.Error.WriteLine($"\r{p}".PadRight(100));
        else _bar.Report((p.Epoch + 1, p.Epochs, $"step {p.Step} {p.Stream} loss {p.Loss:0.000} lr {p.LearningRate:g2} {p.ClipsPerSecond:0.0} clips/s"));
    }

    public void Dispose() => _bar.Dispose();
}
