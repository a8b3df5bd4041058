using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using I3D.MLNet.Scoring;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>
/// One accuracy of an experiment: an architecture scored on the test videos by some of its streams (<c>rgb</c>,
/// <c>flow</c>, or <c>rgb+flow</c>: the fusion of two streams, or the 3D-Fused network's joined one), overall, per class
/// and per class family (the synthetic benchmark's appearance / direction / order / transfer; empty for other data).
/// </summary>
/// <param name="Architecture">The architecture's <see cref="Backbones.VideoBackbone.Name"/>.</param>
/// <param name="Streams">The stream's name (<see cref="Scoring.VideoStreams.Name"/>).</param>
/// <param name="Accuracy">Share of the test videos classified right, in [0, 1].</param>
/// <param name="PerClass">Accuracy over each class's test videos.</param>
/// <param name="PerFamily">Accuracy over each class family's test videos.</param>
public sealed record ExperimentCell(string Architecture, string Streams, double Accuracy, IReadOnlyDictionary<string, double> PerClass, IReadOnlyDictionary<string, double> PerFamily);

/// <summary>How the experiments' tables write cells.</summary>
internal static class ExperimentCells
{
    /// <summary>How the reports write JSON: indented, names such as <c>rgb+flow</c> as they are (not <c>\u002B</c>).</summary>
    public static JsonSerializerOptions Json { get; } = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>An accuracy in the tables: a percentage with one decimal.</summary>
    public static string Percent(double accuracy) => (100 * accuracy).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>The classes the cells were scored on (chance is one over this).</summary>
    public static int ClassCount(IEnumerable<ExperimentCell> cells) => cells.SelectMany(c => c.PerClass.Keys).Distinct().Count();

    /// <summary>A cell's streams as Table 2's columns name them: RGB, Flow, RGB + Flow.</summary>
    public static string StreamsLabel(string streams) => VideoStreams.Parse(streams, "an experiment cell") switch
    {
        VideoStream.Rgb => "RGB",
        VideoStream.Flow => "Flow",
        _ => "RGB + Flow",
    };
}
