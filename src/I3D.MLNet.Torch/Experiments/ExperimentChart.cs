using System.Globalization;
using System.Net;
using System.Text;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>The experiments' bar chart (SVG): one bar per accuracy, coloured by series, with a legend and the chance level.</summary>
internal static class ExperimentChart
{
    private static readonly string[] Colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2"];

    /// <param name="bars">Each bar's label, series (an index into <paramref name="series"/>) and accuracy in [0, 1].</param>
    /// <param name="series">The legend: what each colour is.</param>
    /// <param name="classes">The class count (chance is 1 / classes).</param>
    public static string Svg(IReadOnlyList<(string Label, int Series, double Accuracy)> bars, IReadOnlyList<string> series, int classes)
    {
        const int barWidth = 28, gap = 10, height = 240, top = 30, left = 40; // the legend above, the bar labels below
        int width = Math.Max(left + bars.Count * (barWidth + gap) + 20, left + 90 * series.Count);
        var svg = new StringBuilder($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{top + height + 160}\" font-family=\"sans-serif\" font-size=\"10\">");
        svg.Append($"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + height}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{top + height}\" x2=\"{width - 10}\" y2=\"{top + height}\" stroke=\"black\"/>");
        foreach (int p in new[] { 0, 25, 50, 75, 100 })
            svg.Append($"<text x=\"{left - 4}\" y=\"{top + height - p * height / 100 + 3}\" text-anchor=\"end\">{p}%</text>");
        double chance = classes > 0 ? 1.0 / classes : 0;
        int chanceY = top + height - (int)(chance * height);
        svg.Append($"<line x1=\"{left}\" y1=\"{chanceY}\" x2=\"{width - 10}\" y2=\"{chanceY}\" stroke=\"gray\" stroke-dasharray=\"4\"/><text x=\"{width - 10}\" y=\"{chanceY - 3}\" text-anchor=\"end\" fill=\"gray\">chance</text>");
        for (int i = 0; i < bars.Count; i++)
        {
            var (label, s, accuracy) = bars[i];
            int x = left + gap + i * (barWidth + gap), h = (int)Math.Round(accuracy * height);
            string text = WebUtility.HtmlEncode(label);
            svg.Append($"<rect x=\"{x}\" y=\"{top + height - h}\" width=\"{barWidth}\" height=\"{h}\" fill=\"{Colours[s % Colours.Length]}\"><title>{text}: {(100 * accuracy).ToString("0.0", CultureInfo.InvariantCulture)}%</title></rect>");
            svg.Append($"<text transform=\"translate({x + barWidth / 2},{top + height + 8}) rotate(60)\">{text}</text>");
        }
        for (int s = 0; s < series.Count; s++)
        {
            int x = left + 90 * s, y = 14;
            svg.Append($"<rect x=\"{x}\" y=\"{y - 9}\" width=\"10\" height=\"10\" fill=\"{Colours[s % Colours.Length]}\"/><text x=\"{x + 14}\" y=\"{y}\">{WebUtility.HtmlEncode(series[s])}</text>");
        }
        return svg.Append("</svg>").ToString();
    }
}
