using I3D.MLNet.Interactive.Pictures;
using I3D.MLNet.Interactive.Plots;
using I3D.MLNet.Interactive.Tables;
using I3D.MLNet.Torch.Training;
using Microsoft.DotNet.Interactive.Formatting;
using SkiaSharp;

namespace I3D.MLNet.Interactive.Tests;

public class ChartTests
{
    private static SKBitmap Decode(Picture picture) => SKBitmap.Decode(picture.Bytes) ?? throw new InvalidOperationException($"cannot decode {picture}");

    [Fact]
    public void ConfusionMatrixCellsAreDarkerForLargerCounts()
    {
        double[][] counts = [[5, 0], [1, 4]];
        var picture = Charts.ConfusionMatrix(counts, ["left", "right"], width: 400, height: 320);
        using var bitmap = Decode(picture);
        Assert.Equal((400, 320), (bitmap.Width, bitmap.Height));
        // The darkest pixel is the largest count's colour (dark blue), and there is white-ish for the zeros.
        var pixels = Enumerable.Range(0, 400 * 320).Select(i => bitmap.GetPixel(i % 400, i / 400)).ToList();
        Assert.Contains(pixels, p => p.Red < 20 && p.Green < 60 && p.Blue > 90 && p.Blue < 130);
        Assert.Throws<ArgumentException>(() => Charts.ConfusionMatrix(counts, ["only one"]));
        Assert.Throws<ArgumentException>(() => Charts.ConfusionMatrix([[1, 2]], null));
    }

    [Fact]
    public void TrainingHistoryPlotsWhatWasReported()
    {
        var history = new TrainingHistory();
        var e = Assert.Throws<InvalidOperationException>(() => history.Plot());
        Assert.Contains("Progress", e.Message);
        for (int step = 1; step <= 4; step++) history.Report(new I3DTrainingProgress("train", (step - 1) / 2, 2, step, "rgb", 2.0 / step, 0.01, 3));
        history.Report(new I3DTrainingProgress("epoch", 0, 2, 2, "rgb", 1.5, 0.01, 3, 1.4, 0.5));
        history.Report(new I3DTrainingProgress("epoch", 1, 2, 4, "rgb", 0.6, 0.01, 3, 0.9, 0.75));
        using var bitmap = Decode(history.Plot(320, 240));
        Assert.Equal((320, 240), (bitmap.Width, bitmap.Height));
        Assert.Contains("epoch 2/2 rgb: train loss 0.6000, validation loss 0.9000 accuracy 75", history.ToString());
    }

    [Fact]
    public void BarsNeedOneValuePerLabel()
    {
        using var bitmap = Decode(Charts.Bars("t", "ms", ["a", "b"], [1.5, 3]));
        Assert.Equal((Charts.DefaultWidth, Charts.DefaultHeight), (bitmap.Width, bitmap.Height));
        Assert.Throws<ArgumentException>(() => Charts.Bars("t", "ms", ["a"], [1, 2]));
    }

    [Fact]
    public void TablesTakeTheRowsProperties()
    {
        var table = HtmlTable.From(new[] { new { Name = "a<b", Value = 0.123456, Count = 3 }, new { Name = "c", Value = 2.0, Count = 10 } });
        Assert.Equal(["Name", "Value", "Count"], table.Columns);
        Assert.Equal(["a<b", "0.1235", "3"], table.Rows[0]);
        Assert.Contains("<td>a&lt;b</td>", table.ToHtml());
        Assert.Equal("Name  Value   Count\na<b   0.1235  3\nc     2       10", table.ToString().Replace("\r", ""));
    }

    [Fact]
    public void AMarkdownTableBecomesATableAndOtherTextIsRefused()
    {
        var table = HtmlTable.FromMarkdown("intro\n\n| architecture | streams | Original |\n|---|---|---|\n| InceptionI3d | RGB | 25.0 |\n| InceptionI3d | RGB + Flow | 50.0 |\n\n4 target classes\n");
        Assert.Equal(["architecture", "streams", "Original"], table.Columns);
        Assert.Equal([["InceptionI3d", "RGB", "25.0"], ["InceptionI3d", "RGB + Flow", "50.0"]], table.Rows);
        Assert.Throws<FormatException>(() => HtmlTable.FromMarkdown("no table here"));
        Assert.Throws<FormatException>(() => HtmlTable.FromMarkdown("| a | b |\n| c | d |"));
        Assert.Throws<ArgumentException>(() => HtmlTable.FromMarkdown("| a | b |\n|---|---|\n| c |"));
    }

    [Fact]
    public void FormattersGiveImageOutputsAsBase64()
    {
        I3DNotebook.Initialize();
        var picture = Charts.Bars("t", "ms", ["a"], [1]);
        string formatted = picture.ToDisplayString(PngPicture.Mime);
        Assert.Equal(Convert.ToBase64String(picture.Bytes), formatted);
        var table = HtmlTable.From(new[] { new { A = 1 } });
        Assert.Equal(table.ToHtml(), table.ToDisplayString(HtmlFormatter.MimeType));
        var video = new I3D.MLNet.Video.VideoFrames(I3D.MLNet.Video.FrameElementKind.Rgb24, 2, 4, 4);
        Assert.Equal(Convert.ToBase64String(ClipPicture.Strip(video).Bytes), video.ToDisplayString(PngPicture.Mime));
        // SVG stays text (Jupyter's image/svg+xml is not base64).
        var svg = new SvgPicture("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"></svg>");
        Assert.Equal(svg.Svg, svg.ToDisplayString(SvgPicture.Mime));
        Assert.Throws<ArgumentException>(() => new SvgPicture("<html></html>"));
        var missing = Assert.Throws<FileNotFoundException>(() => SvgPicture.FromFile("/no/such/chart.svg"));
        Assert.StartsWith("/no/such/chart.svg: no such file", missing.Message);
    }
}
