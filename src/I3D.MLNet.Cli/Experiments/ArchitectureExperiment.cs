using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using I3D.MLNet.Datasets;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Cli.Experiments;

/// <summary>One cell of Table 2: an architecture, the streams scored, test accuracy overall, per class and per class family.</summary>
internal sealed record ExperimentCell(string Architecture, string Streams, double Accuracy, Dictionary<string, double> PerClass, Dictionary<string, double> PerFamily);

/// <summary>The settings every architecture of one comparison shares (the clips otherwise follow each architecture's Table 1 row).</summary>
internal sealed record ExperimentSettings(int Epochs, int BatchSize, double LearningRate, int? CropSize, int? ClipFrames, int Seed, int Threads)
{
    /// <summary>The clips of <paramref name="backbone"/>: Table 1's, at the crop and length given where the network takes
    /// them (C3D keeps 16 x 112 x 112, the 3D-Fused network 50 frames and the 2-D flow tower whole stacks of 10: their
    /// layers fix them).</summary>
    public ClipPipelineOptions Clips(VideoBackbone backbone)
    {
        var paper = ClipPipelineOptions.For(backbone) with { FlipProbability = 0, Seed = Seed }; // direction classes change under a mirror
        int frames = ClipFrames ?? paper.Frames, size = CropSize ?? paper.Size;
        ClipPipelineOptions With(int f, int s) => paper with { Frames = f, Size = s, FlowFrames = f == paper.Frames ? paper.FlowFrames : null };
        bool Takes(ClipPipelineOptions c) => Shapes(c).All(shape => backbone.ExpectedShape(shape) is null);
        return new[] { With(frames, size), With(paper.Frames, size), With(frames, paper.Size) }.FirstOrDefault(Takes) ?? paper;
    }

    /// <summary>The clip shape (1, C, T, H, W) of each clip column the options make.</summary>
    private static IEnumerable<long[]> Shapes(ClipPipelineOptions c) => c.Streams switch
    {
        I3DStreams.Rgb => [[1, 3, c.Frames, c.Size, c.Size]],
        I3DStreams.Flow => [[1, 2, c.FlowFrames ?? c.Frames, c.Size, c.Size]],
        I3DStreams.Both => [[1, 3, c.Frames, c.Size, c.Size], [1, 2, c.FlowFrames ?? c.Frames, c.Size, c.Size]],
        _ => [[1, 5, c.Frames, c.Size, c.Size]],
    };
}

/// <summary>
/// The paper's Table 2 on a dataset of one's own: each architecture trained with the streams the paper trains it with
/// (ConvNet+LSTM and 3D-ConvNet RGB; Two-Stream and I3D RGB and flow separately, fused at test; 3D-Fused jointly) and
/// scored on the test videos by RGB, flow and RGB + flow where they exist. Each architecture's cells are cached in the
/// report folder (keyed by the data and the settings), and its training checkpoints there too, so a killed run resumes.
/// </summary>
internal static class ArchitectureExperiment
{
    public static IReadOnlyList<ExperimentCell> Run(string dataDir, string reportDir, IReadOnlyList<VideoBackbone> architectures, ExperimentSettings settings,
        TextWriter log, IProgress<I3DTrainingProgress>? progress = null)
    {
        var train = VideoDataset.FromFolder(Path.Combine(dataDir, "train"));
        var test = VideoDataset.FromFolder(Path.Combine(dataDir, "test"));
        Directory.CreateDirectory(Path.Combine(reportDir, "cells"));
        var cells = new List<ExperimentCell>();
        foreach (var backbone in architectures)
        {
            // Optical flow once per video for every architecture and epoch (and a resumed run), in the report folder.
            var clips = settings.Clips(backbone) with { Flow = new Flow.FlowOptions { CacheDirectory = Path.Combine(reportDir, "flow-cache") } };
            string key = Key(train, test, backbone, clips, settings);
            string file = Path.Combine(reportDir, "cells", $"{backbone.CliName}.json");
            if (Cached(file, key) is { } done)
            {
                log.WriteLine($"experiment: {backbone.Name}: cached in {file}");
                cells.AddRange(done);
                continue;
            }
            log.WriteLine($"experiment: {backbone.Name}: {clips.Streams} clips of {clips.Frames} frames (1 of every {clips.FrameStride}) at {clips.Size} x {clips.Size}, {settings.Epochs} epochs");
            var trainer = new I3DTrainerOptions
            {
                Backbone = backbone.Name, Epochs = settings.Epochs, BatchSize = settings.BatchSize, LearningRate = settings.LearningRate,
                ValidationFraction = 0, BatchNormMomentum = 0.1, Seed = settings.Seed, Threads = settings.Threads, Progress = progress,
                CheckpointDirectory = Path.Combine(reportDir, "checkpoints", backbone.CliName), CheckpointEverySteps = 10,
            };
            var ml = new MLContext(settings.Seed);
            var model = VideoClassification.Create(ml, clips, trainer).Fit(VideoClassification.MapLabels(ml, train, train.Classes));
            var result = Score(ml, model, test, train.Classes, backbone);
            Write(file, key, result);
            cells.AddRange(result);
        }
        return cells;
    }

    /// <summary>The cells of one fitted architecture: each stream alone (its logits' argmax) and, with two streams, the fusion.</summary>
    private static List<ExperimentCell> Score(MLContext ml, ITransformer model, VideoDataset test, IReadOnlyList<string> classes, VideoBackbone backbone)
    {
        var scored = model.Transform(VideoClassification.MapLabels(ml, test, classes));
        var streams = VideoClassification.Classifier(model).Streams;
        var columns = streams.Select(s => scored.Schema[StreamFusion.LogitsColumnName(s)]).ToList();
        using var cursor = scored.GetRowCursor([scored.Schema["Label"], scored.Schema["Score"], .. columns]);
        var getLabel = cursor.GetGetter<uint>(scored.Schema["Label"]);
        var getScore = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var getLogits = columns.Select(c => cursor.GetGetter<VBuffer<float>>(c)).ToArray();
        var rows = new List<(int Truth, int[] Predicted)>(); // one prediction per stream, then the fusion
        uint label = 0;
        var buffer = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getLabel(ref label);
            var predicted = new int[streams.Count + 1];
            for (int i = 0; i < streams.Count; i++)
            {
                getLogits[i](ref buffer);
                predicted[i] = ClassScores.ArgMax(buffer.DenseValues().ToArray());
            }
            getScore(ref buffer);
            predicted[^1] = ClassScores.ArgMax(buffer.DenseValues().ToArray());
            rows.Add(((int)label - 1, predicted));
        }
        var cells = new List<ExperimentCell>();
        for (int i = 0; i < streams.Count; i++) cells.Add(Cell(backbone, streams[i].Name(), rows.Select(r => (r.Truth, r.Predicted[i])), classes));
        if (streams.Count > 1) cells.Add(Cell(backbone, VideoStream.RgbAndFlow.Name(), rows.Select(r => (r.Truth, r.Predicted[^1])), classes));
        return cells;
    }

    private static ExperimentCell Cell(VideoBackbone backbone, string streams, IEnumerable<(int Truth, int Predicted)> rows, IReadOnlyList<string> classes)
    {
        var list = rows.ToList();
        var perClass = classes.Select((c, k) => (c, k)).Where(p => list.Any(r => r.Truth == p.k))
            .ToDictionary(p => p.c, p => list.Where(r => r.Truth == p.k).Average(r => r.Predicted == r.Truth ? 1.0 : 0.0));
        var perFamily = perClass.GroupBy(kv => FamilyOf(kv.Key)).Where(g => g.Key is not null)
            .ToDictionary(g => g.Key!, g => list.Where(r => FamilyOf(classes[r.Truth]) == g.Key).Average(r => r.Predicted == r.Truth ? 1.0 : 0.0));
        return new ExperimentCell(backbone.Name, streams, list.Average(r => r.Predicted == r.Truth ? 1.0 : 0.0), perClass, perFamily);
    }

    /// <summary>The synthetic benchmark's family of a class (appearance, direction, order, transfer); null for other data.</summary>
    private static string? FamilyOf(string className)
    {
        try { return SyntheticActions.Family(className); }
        catch (ArgumentException) { return null; }
    }

    /// <summary>What a cached cell must have been computed from: the videos (paths and sizes), the clips and the settings.</summary>
    private static string Key(VideoDataset train, VideoDataset test, VideoBackbone backbone, ClipPipelineOptions clips, ExperimentSettings settings)
    {
        var text = new StringBuilder().Append(backbone.Name).Append('|').Append(JsonSerializer.Serialize(clips with { Flow = new() }))
            .Append('|').Append(JsonSerializer.Serialize(settings with { Threads = 0 }));
        foreach (var v in train.Videos.Concat(test.Videos))
            text.Append('|').Append(v.Label).Append(':').Append(Path.GetFileName(v.Path)).Append(':').Append(new FileInfo(v.Path).Length);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    private sealed record CellFile(string Key, List<ExperimentCell> Cells);

    private static List<ExperimentCell>? Cached(string file, string key)
    {
        if (!File.Exists(file)) return null;
        try { return JsonSerializer.Deserialize<CellFile>(File.ReadAllText(file)) is { } c && c.Key == key ? c.Cells : null; }
        catch (JsonException) { return null; } // a damaged cell is computed again
    }

    private static void Write(string file, string key, List<ExperimentCell> cells)
    {
        string tmp = file + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(new CellFile(key, cells), new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, file, overwrite: true);
    }

    /// <summary>Table 2's shape: one row per architecture, a column per stream (RGB, Flow, RGB + Flow), then accuracy per family.</summary>
    public static string Markdown(IReadOnlyList<ExperimentCell> cells)
    {
        string Percent(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture);
        var families = cells.SelectMany(c => c.PerFamily.Keys).Distinct().ToList();
        var text = new StringBuilder("| architecture | RGB | Flow | RGB + Flow |");
        foreach (var f in families) text.Append($" {f} (all streams) |");
        text.Append("\n|---|---|---|---|").Append(string.Concat(families.Select(_ => "---|"))).Append('\n');
        foreach (var arch in cells.Select(c => c.Architecture).Distinct())
        {
            var row = cells.Where(c => c.Architecture == arch).ToList();
            string At(string streams) => row.FirstOrDefault(c => c.Streams == streams) is { } c ? Percent(c.Accuracy) : "-";
            var all = row[^1]; // the fusion where there is one, else the only stream
            text.Append($"| {arch} | {At("rgb")} | {At("flow")} | {At(VideoStream.RgbAndFlow.Name())} |");
            foreach (var f in families) text.Append($" {(all.PerFamily.TryGetValue(f, out var v) ? Percent(v) : "-")} |");
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>A bar chart (SVG): accuracy per architecture and streams, the chance level marked.</summary>
    public static string Svg(IReadOnlyList<ExperimentCell> cells, int classes)
    {
        const int barWidth = 28, gap = 10, height = 240, top = 20, left = 40;
        int width = left + cells.Count * (barWidth + gap) + 20;
        var svg = new StringBuilder($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height + 140}\" font-family=\"sans-serif\" font-size=\"10\">");
        svg.Append($"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + height}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{top + height}\" x2=\"{width - 10}\" y2=\"{top + height}\" stroke=\"black\"/>");
        foreach (int p in new[] { 0, 25, 50, 75, 100 })
            svg.Append($"<text x=\"{left - 4}\" y=\"{top + height - p * height / 100 + 3}\" text-anchor=\"end\">{p}%</text>");
        double chance = classes > 0 ? 1.0 / classes : 0;
        int chanceY = top + height - (int)(chance * height);
        svg.Append($"<line x1=\"{left}\" y1=\"{chanceY}\" x2=\"{width - 10}\" y2=\"{chanceY}\" stroke=\"gray\" stroke-dasharray=\"4\"/><text x=\"{width - 10}\" y=\"{chanceY - 3}\" text-anchor=\"end\" fill=\"gray\">chance</text>");
        string[] colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
        for (int i = 0; i < cells.Count; i++)
        {
            var c = cells[i];
            int x = left + gap + i * (barWidth + gap), h = (int)Math.Round(c.Accuracy * height);
            string colour = c.Streams == "rgb" ? colours[0] : c.Streams == "flow" ? colours[1] : colours[2];
            svg.Append($"<rect x=\"{x}\" y=\"{top + height - h}\" width=\"{barWidth}\" height=\"{h}\" fill=\"{colour}\"><title>{c.Architecture} {c.Streams}: {100 * c.Accuracy:0.0}%</title></rect>");
            svg.Append($"<text transform=\"translate({x + barWidth / 2},{top + height + 8}) rotate(60)\">{c.Architecture} {c.Streams}</text>");
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>The cells as JSON: <c>{"results":[{"architecture","streams","accuracy","perClass":{name:acc},"perFamily":{name:acc}}]}</c>.</summary>
    public static string Json(IReadOnlyList<ExperimentCell> cells)
        => JsonSerializer.Serialize(new { results = cells.Select(c => new { architecture = c.Architecture, streams = c.Streams, accuracy = c.Accuracy, perClass = c.PerClass, perFamily = c.PerFamily }) },
            new JsonSerializerOptions { WriteIndented = true });
}
