using I3D.MLNet.Interactive.Pictures;
using Microsoft.ML.Data;
using ScottPlot;

namespace I3D.MLNet.Interactive.Plots;

/// <summary>Plots for notebooks (ScottPlot, rendered to PNG): curves, bars, confusion matrices.</summary>
public static class Charts
{
    /// <summary>Width of a chart in pixels unless given.</summary>
    public const int DefaultWidth = 640;

    /// <summary>Height of a chart in pixels unless given.</summary>
    public const int DefaultHeight = 400;

    /// <summary>Named series of (x, y) points as lines with markers.</summary>
    public static PngPicture Lines(string title, string xLabel, string yLabel, IEnumerable<(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)> series,
        int width = DefaultWidth, int height = DefaultHeight)
    {
        var plot = new Plot();
        int n = 0;
        foreach (var (name, x, y) in series)
        {
            if (x.Count != y.Count) throw new ArgumentException($"series '{name}': {x.Count} x values but {y.Count} y values");
            if (x.Count == 0) continue;
            var line = plot.Add.Scatter(x.ToArray(), y.ToArray());
            line.LegendText = name;
            line.MarkerSize = x.Count > 40 ? 0 : 5;
            n++;
        }
        if (n == 0) throw new ArgumentException($"{title}: no points to plot");
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        return Render(plot, width, height, title);
    }

    /// <summary>One bar per label (e.g. milliseconds per frame pair of each algorithm), values written above the bars.</summary>
    public static PngPicture Bars(string title, string valueLabel, IReadOnlyList<string> labels, IReadOnlyList<double> values, string valueFormat = "0.##",
        int width = DefaultWidth, int height = DefaultHeight)
    {
        if (labels.Count != values.Count || labels.Count == 0) throw new ArgumentException($"{title}: {labels.Count} labels and {values.Count} values");
        var plot = new Plot();
        var bars = plot.Add.Bars(values.ToArray());
        foreach (var bar in bars.Bars) bar.Label = bar.Value.ToString(valueFormat, System.Globalization.CultureInfo.InvariantCulture);
        bars.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, labels.Count).Select(i => (double)i)], [.. labels]);
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.Title(title);
        plot.YLabel(valueLabel);
        return Render(plot, width, height, title);
    }

    /// <summary>
    /// A confusion matrix as a heat map with the counts written in the cells: rows are true classes, columns predicted
    /// classes, in the order of <paramref name="classes"/> (ML.NET's order: the label key values).
    /// </summary>
    public static PngPicture ConfusionMatrix(ConfusionMatrix matrix, IReadOnlyList<string>? classes = null, string title = "Confusion matrix",
        int width = DefaultWidth, int height = 0)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        int n = matrix.NumberOfClasses;
        var counts = new double[n][];
        for (int i = 0; i < n; i++) counts[i] = [.. matrix.Counts[i]];
        return ConfusionMatrix(counts, classes, title, width, height);
    }

    /// <summary>A confusion matrix of <paramref name="counts"/> (rows: true class, columns: predicted class) as a heat map with the counts written in.</summary>
    public static PngPicture ConfusionMatrix(IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string>? classes = null, string title = "Confusion matrix",
        int width = DefaultWidth, int height = 0)
    {
        int n = counts.Count;
        if (n == 0 || counts.Any(r => r.Count != n)) throw new ArgumentException($"{title}: the counts are not a square matrix");
        classes ??= [.. Enumerable.Range(0, n).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        if (classes.Count != n) throw new ArgumentException($"{title}: {classes.Count} class names for {n} classes");
        var plot = new Plot();
        var grid = new double[n, n];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) grid[r, c] = counts[r][c];
        var map = plot.Add.Heatmap(grid);
        map.Colormap = new WhiteToBlue();
        double max = Math.Max(1, grid.Cast<double>().Max());
        // Row r of the heat map is drawn at y = n - 1 - r (first row on top), column c at x = c.
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                var text = plot.Add.Text(grid[r, c].ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), c, n - 1 - r);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 16;
                text.LabelFontColor = grid[r, c] > max / 2 ? Colors.White : Colors.Black; // dark cells get white text
            }
        double[] positions = [.. Enumerable.Range(0, n).Select(i => (double)i)];
        plot.Axes.Bottom.SetTicks(positions, [.. classes]);
        plot.Axes.Left.SetTicks([.. positions.Reverse()], [.. classes]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = n > 4 ? -30 : 0;
        plot.Axes.Bottom.TickLabelStyle.Alignment = n > 4 ? Alignment.MiddleRight : Alignment.UpperCenter;
        plot.Add.ColorBar(map);
        plot.Title(title);
        plot.XLabel("predicted class");
        plot.YLabel("true class");
        return Render(plot, width, height > 0 ? height : (int)(width * 0.8), title);
    }

    internal static PngPicture Render(Plot plot, int width, int height, string caption)
    {
        var bytes = plot.GetImageBytes(width, height, ImageFormat.Png);
        return new PngPicture(bytes, width, height, caption);
    }

    /// <summary>White (0) to dark blue (the largest count): the more, the darker.</summary>
    private sealed class WhiteToBlue : IColormap
    {
        public string Name => "white to blue";

        public Color GetColor(double position)
        {
            double t = double.IsFinite(position) ? Math.Clamp(position, 0, 1) : 0;
            static byte Mix(double from, double to, double t) => (byte)Math.Round(from + (to - from) * t);
            return new Color(Mix(255, 8, t), Mix(255, 48, t), Mix(255, 107, t));
        }
    }
}
