using System.Text;
using System.Text.Json;
using I3D.MLNet.Datasets;
using I3D.MLNet.IO;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>
/// The paper's Table 2 on a dataset of one's own (<c>i3d experiment architectures</c>): each architecture trained with
/// the streams the paper trains it with (ConvNet+LSTM and 3D-ConvNet RGB; Two-Stream and I3D RGB and flow separately,
/// fused at test; 3D-Fused jointly), from scratch, and scored on the test videos by RGB, flow and RGB + flow where they
/// exist. Each architecture's cells are cached in the report folder (keyed by the data and the settings), and its
/// training checkpoints there too, so a killed run resumes.
/// </summary>
/// <example><code>
/// var cells = ArchitectureExperiment.Run("data", "report", [VideoBackbones.InceptionI3d], new ExperimentSettings(Epochs: 2, CropSize: 56, ClipFrames: 16), Console.Error);
/// ArchitectureExperiment.WriteReport("report", cells); // report/architectures.md, .json, .svg
/// </code></example>
public static class ArchitectureExperiment
{
    /// <summary>Trains and scores each of <paramref name="architectures"/> on <paramref name="dataDir"/> (<c>train/&lt;class&gt;/</c>,
    /// <c>test/&lt;class&gt;/</c>), reusing the cells cached in <paramref name="reportDir"/>; progress lines go to <paramref name="log"/>.</summary>
    /// <param name="dataDir">The labelled videos.</param>
    /// <param name="reportDir">The report folder (cells, checkpoints, flow cache).</param>
    /// <param name="architectures">The architectures, in table order.</param>
    /// <param name="settings">What every training shares.</param>
    /// <param name="log">Progress lines (one per architecture: trained or cached).</param>
    /// <param name="progress">The trainer's progress reports.</param>
    /// <returns>Each architecture's cells: each stream, then the fusion where there are two.</returns>
    public static IReadOnlyList<ExperimentCell> Run(string dataDir, string reportDir, IReadOnlyList<VideoBackbone> architectures, ExperimentSettings settings,
        TextWriter log, IProgress<I3DTrainingProgress>? progress = null)
        => Run(ExperimentData.Load(dataDir), reportDir, architectures, settings, log, progress);

    /// <summary>Trains and scores each of <paramref name="architectures"/> on <paramref name="data"/>'s training and test
    /// videos (<see cref="ExperimentData"/>: a folder, or UCF-101's or HMDB-51's split files), reusing the cells cached in
    /// <paramref name="reportDir"/>; progress lines go to <paramref name="log"/>.</summary>
    /// <param name="data">The labelled videos, training and test.</param>
    /// <param name="reportDir">The report folder (cells, checkpoints, flow cache).</param>
    /// <param name="architectures">The architectures, in table order.</param>
    /// <param name="settings">What every training shares.</param>
    /// <param name="log">Progress lines (one per architecture: trained or cached).</param>
    /// <param name="progress">The trainer's progress reports.</param>
    /// <returns>Each architecture's cells: each stream, then the fusion where there are two.</returns>
    public static IReadOnlyList<ExperimentCell> Run((VideoDataset Train, VideoDataset Test) data, string reportDir, IReadOnlyList<VideoBackbone> architectures,
        ExperimentSettings settings, TextWriter log, IProgress<I3DTrainingProgress>? progress = null)
    {
        var (train, test) = data;
        var folder = new ExperimentFolder(reportDir);
        var cells = new List<ExperimentCell>();
        foreach (var backbone in architectures)
        {
            var clips = settings.Clips(backbone) with { Flow = folder.Flow };
            string key = ExperimentFolder.Key(backbone, clips, settings, [train, test]);
            cells.AddRange(folder.Cells(backbone.CliName, key, backbone.Name, log,
                checkpoints => ExperimentTraining.TrainAndScore(backbone.Name, backbone, clips, settings.Trainer(backbone, checkpoints, progress), train, test, log)));
        }
        return cells;
    }

    /// <summary>Writes <c>architectures.md</c>, <c>architectures.json</c> and <c>architectures.svg</c> into <paramref name="reportDir"/>; returns the Markdown path.</summary>
    /// <param name="reportDir">The report folder.</param>
    /// <param name="cells">What <see cref="Run(string, string, IReadOnlyList{VideoBackbone}, ExperimentSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string WriteReport(string reportDir, IReadOnlyList<ExperimentCell> cells)
    {
        string markdown = Path.Combine(reportDir, "architectures.md");
        AtomicFile.WriteAllText(markdown, Markdown(cells));
        AtomicFile.WriteAllText(Path.Combine(reportDir, "architectures.json"), Json(cells));
        AtomicFile.WriteAllText(Path.Combine(reportDir, "architectures.svg"), Svg(cells));
        return markdown;
    }

    /// <summary>Table 2's shape: one row per architecture, a column per stream (RGB, Flow, RGB + Flow), then accuracy per family.</summary>
    /// <param name="cells">What <see cref="Run(string, string, IReadOnlyList{VideoBackbone}, ExperimentSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string Markdown(IReadOnlyList<ExperimentCell> cells)
    {
        var families = cells.SelectMany(c => c.PerFamily.Keys).Distinct().ToList();
        var text = new StringBuilder("| architecture |").AppendJoin("", Columns.Select(s => $" {ExperimentCells.StreamsLabel(s)} |"));
        foreach (var f in families) text.Append($" {f} (all streams) |");
        text.Append("\n|---|").Append(string.Concat(Columns.Concat(families).Select(_ => "---|"))).Append('\n');
        foreach (var arch in cells.Select(c => c.Architecture).Distinct())
        {
            var row = cells.Where(c => c.Architecture == arch).ToList();
            string At(string streams) => row.FirstOrDefault(c => c.Streams == streams) is { } c ? ExperimentCells.Percent(c.Accuracy) : "-";
            var all = row[^1]; // the fusion where there is one, else the only stream
            text.Append($"| {arch} |").AppendJoin("", Columns.Select(s => $" {At(s)} |"));
            foreach (var f in families) text.Append($" {(all.PerFamily.TryGetValue(f, out var v) ? ExperimentCells.Percent(v) : "-")} |");
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>A bar chart (SVG): accuracy per architecture and streams, the chance level marked.</summary>
    /// <param name="cells">What <see cref="Run(string, string, IReadOnlyList{VideoBackbone}, ExperimentSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string Svg(IReadOnlyList<ExperimentCell> cells)
        => ExperimentChart.Svg([.. cells.Select(c => ($"{c.Architecture} {c.Streams}", Columns.IndexOf(c.Streams), c.Accuracy))], Columns, ExperimentCells.ClassCount(cells));

    /// <summary>Table 2's stream columns (and the chart's series): RGB, Flow, RGB + Flow.</summary>
    private static readonly List<string> Columns = [VideoStream.Rgb.Name(), VideoStream.Flow.Name(), VideoStream.RgbAndFlow.Name()];

    /// <summary>The cells as JSON: <c>{"results":[{"architecture","streams","accuracy","perClass":{name:acc},"perFamily":{name:acc}}]}</c>.</summary>
    /// <param name="cells">What <see cref="Run(string, string, IReadOnlyList{VideoBackbone}, ExperimentSettings, TextWriter, IProgress{I3DTrainingProgress})"/> returned.</param>
    public static string Json(IReadOnlyList<ExperimentCell> cells)
        => JsonSerializer.Serialize(new { results = cells.Select(c => new { architecture = c.Architecture, streams = c.Streams, accuracy = c.Accuracy, perClass = c.PerClass, perFamily = c.PerFamily }) },
            ExperimentCells.Json);
}
