using System.Text;
using System.Text.Json;
using I3D.MLNet.Datasets;
using I3D.MLNet.IO;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>The settings of a transfer experiment.</summary>
/// <param name="Training">What every training shares; its epochs are the target's.</param>
/// <param name="SourceEpochs">Epochs of the pre-training on a source folder; null for <see cref="ExperimentSettings.Epochs"/>.</param>
/// <param name="TargetPerClass">Train on the first this many target training videos of each class; null for all.</param>
public sealed record TransferSettings(ExperimentSettings Training, int? SourceEpochs = null, int? TargetPerClass = null);

/// <summary>One cell of Table 4: an architecture's streams after one way of meeting the target.</summary>
/// <param name="Mode">Original, Fixed or Full-FT.</param>
/// <param name="Cell">The accuracy on the target's test videos.</param>
public sealed record TransferCell(TransferMode Mode, ExperimentCell Cell);

/// <summary>What a transfer experiment measured.</summary>
/// <param name="Source">Where the pre-trained weights came from.</param>
/// <param name="Cells">Table 4's cells, architecture by architecture, mode by mode.</param>
/// <param name="SourceCells">The pre-trained models on the source folder's own test videos (empty for weights files).</param>
public sealed record TransferResults(string Source, IReadOnlyList<TransferCell> Cells, IReadOnlyList<ExperimentCell> SourceCells);

/// <summary>
/// The paper's Table 4 on data of one's own (<c>i3d experiment transfer</c>): each architecture on a small target
/// dataset, Original (trained on the target only, from scratch), Fixed (pre-trained on the source, only the classifier
/// trained on the target) and Full-FT (pre-trained, then everything fine-tuned), with the streams the paper trains it
/// with and their fusion where there are two. Pre-training on a source folder is itself a cached cell: the source
/// models' weights are kept in <c>REPORT/source-weights/</c> and their accuracy on the source's test videos reported.
/// Every cell is cached in the report folder and every training checkpointed there, so a killed run resumes.
/// </summary>
/// <example><code>
/// var source = TransferSource.FromPaths(["source"]);     // or ["rgb_imagenet.pt", "flow_imagenet.pt"] for I3D
/// var results = TransferExperiment.Run(source, "target", "report", [VideoBackbones.InceptionI3d],
///     new TransferSettings(new ExperimentSettings(Epochs: 2, CropSize: 56, ClipFrames: 16), TargetPerClass: 4), Console.Error);
/// TransferExperiment.WriteReport("report", results);     // report/transfer.md, .json, .svg
/// </code></example>
public static class TransferExperiment
{
    /// <summary>Pre-trains (or reads) each architecture's source weights and trains it three ways on <paramref name="targetDir"/>,
    /// reusing the cells cached in <paramref name="reportDir"/>.</summary>
    /// <param name="source">The source videos or weights files.</param>
    /// <param name="targetDir">The target videos: <c>train/&lt;class&gt;/</c>, <c>test/&lt;class&gt;/</c>.</param>
    /// <param name="reportDir">The report folder (cells, checkpoints, source weights, flow cache).</param>
    /// <param name="architectures">The architectures, in table order (only InceptionI3d for weights files).</param>
    /// <param name="settings">The training settings, the source's epochs and the target videos per class.</param>
    /// <param name="log">Progress lines (one per cell: trained or cached).</param>
    /// <param name="progress">The trainer's progress reports.</param>
    public static TransferResults Run(TransferSource source, string targetDir, string reportDir, IReadOnlyList<VideoBackbone> architectures, TransferSettings settings,
        TextWriter log, IProgress<I3DTrainingProgress>? progress = null)
    {
        CheckSource(source, architectures); // a wrong source is one line before the target is read
        return Train(source, ExperimentData.Load(targetDir), reportDir, architectures, settings, log, progress);
    }

    /// <summary>Pre-trains (or reads) each architecture's source weights and trains it three ways on <paramref name="target"/>'s
    /// training videos, scored on its test videos (<see cref="ExperimentData"/>: a folder, or UCF-101's or HMDB-51's split
    /// files, the paper's targets), reusing the cells cached in <paramref name="reportDir"/>.</summary>
    /// <param name="source">The source videos or weights files.</param>
    /// <param name="target">The target videos, training and test.</param>
    /// <param name="reportDir">The report folder (cells, checkpoints, source weights, flow cache).</param>
    /// <param name="architectures">The architectures, in table order (only InceptionI3d for weights files).</param>
    /// <param name="settings">The training settings, the source's epochs and the target videos per class.</param>
    /// <param name="log">Progress lines (one per cell: trained or cached).</param>
    /// <param name="progress">The trainer's progress reports.</param>
    public static TransferResults Run(TransferSource source, (VideoDataset Train, VideoDataset Test) target, string reportDir, IReadOnlyList<VideoBackbone> architectures,
        TransferSettings settings, TextWriter log, IProgress<I3DTrainingProgress>? progress = null)
    {
        CheckSource(source, architectures);
        return Train(source, target, reportDir, architectures, settings, log, progress);
    }

    private static void CheckSource(TransferSource source, IReadOnlyList<VideoBackbone> architectures)
    {
        foreach (var backbone in architectures) source.Check(backbone);
    }

    /// <summary>Both <c>Run</c>s once the source is checked.</summary>
    private static TransferResults Train(TransferSource source, (VideoDataset Train, VideoDataset Test) target, string reportDir, IReadOnlyList<VideoBackbone> architectures,
        TransferSettings settings, TextWriter log, IProgress<I3DTrainingProgress>? progress)
    {
        var (train, test) = target;
        if (settings.TargetPerClass is { } n) train = ExperimentData.FirstPerClass(train, n);
        var folder = new ExperimentFolder(reportDir);
        var cells = new List<TransferCell>();
        var sourceCells = new List<ExperimentCell>();
        foreach (var backbone in architectures)
        {
            var streams = source.Streams(backbone);
            var clips = settings.Training.Clips(backbone) with { Flow = folder.Flow, Streams = ClipStreams(streams) };
            var (weights, sourceKey) = source.Folder is { } dir
                ? Pretrain(dir, backbone, streams, clips, settings, folder, log, progress, sourceCells)
                : (source.Weights, source.Key);
            foreach (var mode in TransferModes.All)
            {
                string name = $"{backbone.CliName}-{mode.Name()}", what = $"{backbone.Name} {mode.Label()}";
                // Original does not depend on the source: another source leaves it cached.
                string key = ExperimentFolder.Key(backbone, clips, settings.Training, [train, test], mode == TransferMode.Original ? [mode.Name()] : [mode.Name(), sourceKey]);
                var done = folder.Cells(name, key, what, log, checkpoints =>
                    ExperimentTraining.TrainAndScore(what, backbone, clips, Trainer(mode, settings.Training.Trainer(backbone, checkpoints, progress), weights), train, test, log));
                cells.AddRange(done.Select(c => new TransferCell(mode, c)));
            }
        }
        return new TransferResults(source.ToString(), cells, sourceCells);
    }

    /// <summary>Table 4's three ways (section 4): from scratch on the target; from the source weights with only the
    /// classifier trained; from the source weights with every layer trained. The classifier is new either way (the
    /// target's classes).</summary>
    private static I3DTrainerOptions Trainer(TransferMode mode, I3DTrainerOptions target, IReadOnlyDictionary<VideoStream, string> weights) => mode switch
    {
        TransferMode.Original => target,
        _ => target.WithWeights(weights) with { Initialization = I3DInitialization.Checkpoint, FixedFeatures = mode == TransferMode.Fixed },
    };

    /// <summary>The architecture trained on the source folder (a cached cell of its own, its weights in <c>source-weights/</c>): each stream's file and the key of the pre-training.</summary>
    private static (IReadOnlyDictionary<VideoStream, string> Weights, string Key) Pretrain(string dir, VideoBackbone backbone, IReadOnlyList<VideoStream> streams,
        ClipPipelineOptions clips, TransferSettings settings, ExperimentFolder folder, TextWriter log, IProgress<I3DTrainingProgress>? progress, List<ExperimentCell> sourceCells)
    {
        var (train, test) = ExperimentData.Load(dir);
        var pretraining = settings.Training with { Epochs = settings.SourceEpochs ?? settings.Training.Epochs };
        string name = $"{backbone.CliName}-source", what = $"{backbone.Name} source";
        string key = ExperimentFolder.Key(backbone, clips, pretraining, [train, test], "source");
        Directory.CreateDirectory(Path.Combine(folder.Root, "source-weights"));
        var weights = streams.ToDictionary(s => s, s => Path.Combine(folder.Root, "source-weights", $"{backbone.CliName}-{s.Name().Replace('+', '-')}.pt"));
        sourceCells.AddRange(folder.Cells(name, key, what, log,
            checkpoints => ExperimentTraining.TrainAndScore(what, backbone, clips, pretraining.Trainer(backbone, checkpoints, progress), train, test, log,
                keep: model => { foreach (var (stream, file) in weights) model.SaveStreamWeights(stream, file); }),
            complete: () => weights.Values.All(File.Exists)));
        return (weights, key);
    }

    private static I3DStreams ClipStreams(IReadOnlyList<VideoStream> streams) => streams switch
    {
        [VideoStream.RgbAndFlow] => I3DStreams.RgbAndFlow,
        [VideoStream.Rgb] => I3DStreams.Rgb,
        [VideoStream.Flow] => I3DStreams.Flow,
        _ => I3DStreams.Both,
    };

    /// <summary>Writes <c>transfer.md</c>, <c>transfer.json</c> and <c>transfer.svg</c> into <paramref name="reportDir"/>; returns the Markdown path.</summary>
    /// <param name="reportDir">The report folder.</param>
    /// <param name="results">What <see cref="Run(TransferSource, string, string, IReadOnlyList{VideoBackbone}, TransferSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string WriteReport(string reportDir, TransferResults results)
    {
        string markdown = Path.Combine(reportDir, "transfer.md");
        AtomicFile.WriteAllText(markdown, Markdown(results));
        AtomicFile.WriteAllText(Path.Combine(reportDir, "transfer.json"), Json(results));
        AtomicFile.WriteAllText(Path.Combine(reportDir, "transfer.svg"), Svg(results));
        return markdown;
    }

    /// <summary>Table 4's shape: a row per architecture and streams, the columns Original, Fixed and Full-FT; then the source models' own accuracy.</summary>
    /// <param name="results">What <see cref="Run(TransferSource, string, string, IReadOnlyList{VideoBackbone}, TransferSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string Markdown(TransferResults results)
    {
        var text = new StringBuilder("| architecture | streams | ").AppendJoin(" | ", TransferModes.All.Select(m => m.Label())).Append(" |\n|---|---|")
            .Append(string.Concat(TransferModes.All.Select(_ => "---|"))).Append('\n');
        foreach (var row in Rows(results.Cells))
        {
            text.Append($"| {row.Key.Architecture} | {ExperimentCells.StreamsLabel(row.Key.Streams)} |");
            foreach (var mode in TransferModes.All)
                text.Append($" {(row.FirstOrDefault(c => c.Mode == mode) is { } c ? ExperimentCells.Percent(c.Cell.Accuracy) : "-")} |");
            text.Append('\n');
        }
        int classes = ExperimentCells.ClassCount(results.Cells.Select(c => c.Cell));
        text.Append($"\n{classes} target classes (chance {ExperimentCells.Percent(classes > 0 ? 1.0 / classes : 0)}); source: {results.Source}.");
        if (results.SourceCells.Count > 0)
            text.Append(" Source models on the source's test videos: ")
                .AppendJoin(", ", results.SourceCells.Select(c => $"{c.Architecture} {ExperimentCells.StreamsLabel(c.Streams)} {ExperimentCells.Percent(c.Accuracy)}")).Append('.');
        return text.Append('\n').ToString();
    }

    /// <summary>A bar chart (SVG): accuracy per architecture, streams and mode, the chance level marked.</summary>
    /// <param name="results">What <see cref="Run(TransferSource, string, string, IReadOnlyList{VideoBackbone}, TransferSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string Svg(TransferResults results)
    {
        var bars = Rows(results.Cells).SelectMany(row => row.Select(c =>
            ($"{c.Cell.Architecture} {ExperimentCells.StreamsLabel(c.Cell.Streams)} {c.Mode.Label()}", TransferModes.All.ToList().IndexOf(c.Mode), c.Cell.Accuracy))).ToList();
        return ExperimentChart.Svg(bars, [.. TransferModes.All.Select(m => m.Label())], ExperimentCells.ClassCount(results.Cells.Select(c => c.Cell)));
    }

    /// <summary>The cells as JSON: <c>{"results":[{"architecture","streams","mode","accuracy","perClass":{name:acc}}],
    /// "source":[{"architecture","streams","accuracy","perClass"}]}</c> (mode: original, fixed, full-ft; source: the
    /// source models on the source's test videos, empty for weights files).</summary>
    /// <param name="results">What <see cref="Run(TransferSource, string, string, IReadOnlyList{VideoBackbone}, TransferSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string Json(TransferResults results) => JsonSerializer.Serialize(new
    {
        results = results.Cells.Select(c => new { architecture = c.Cell.Architecture, streams = c.Cell.Streams, mode = c.Mode.Name(), accuracy = c.Cell.Accuracy, perClass = c.Cell.PerClass }),
        source = results.SourceCells.Select(c => new { architecture = c.Architecture, streams = c.Streams, accuracy = c.Accuracy, perClass = c.PerClass }),
    }, ExperimentCells.Json);

    /// <summary>The table's rows: the cells grouped by architecture and streams, in the order they came.</summary>
    private static IEnumerable<IGrouping<(string Architecture, string Streams), TransferCell>> Rows(IReadOnlyList<TransferCell> cells)
        => cells.GroupBy(c => (c.Cell.Architecture, c.Cell.Streams));
}
