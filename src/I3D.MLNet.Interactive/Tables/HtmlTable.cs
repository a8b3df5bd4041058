using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;

namespace I3D.MLNet.Interactive.Tables;

/// <summary>
/// A plain table (a header row and text cells) that a notebook shows as an HTML table: one column per public
/// property of the rows (records, anonymous types). Numbers are written with invariant culture, fractions to four
/// significant places.
/// </summary>
public sealed class HtmlTable
{
    /// <summary>A table of <paramref name="rows"/> under <paramref name="columns"/>; every row needs one cell per column.</summary>
    public HtmlTable(IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        if (rows.Any(r => r.Count != columns.Count)) throw new ArgumentException($"every row needs {columns.Count} cells");
        Columns = columns;
        Rows = rows;
    }

    /// <summary>The column headers.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>The rows of cell texts.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Rows { get; }

    /// <summary>A table with a column per public property of the rows' type and a row per item.</summary>
    public static HtmlTable From<T>(IEnumerable<T> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var list = rows.ToList();
        var type = list.FirstOrDefault()?.GetType() ?? typeof(T);
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).ToArray();
        return new HtmlTable([.. properties.Select(p => p.Name)],
            [.. list.Select(row => (IReadOnlyList<string>)[.. properties.Select(p => Cell(p.GetValue(row)))])]);
    }

    /// <summary>
    /// The first Markdown pipe table in <paramref name="markdown"/> (e.g. a report an <c>i3d experiment</c> wrote): its
    /// header row, the separator row, the rows after it up to the first line that is not a table row.
    /// </summary>
    /// <param name="markdown">Markdown text holding a table.</param>
    public static HtmlTable FromMarkdown(string markdown)
    {
        var lines = markdown.Split('\n').Select(l => l.Trim()).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')).ToList();
        static string[] Cells(string line) => [.. line.Trim('|').Split('|').Select(c => c.Trim())];
        if (lines.Count < 2 || !Cells(lines[1]).All(c => c.Length > 0 && c.Trim(':').Trim('-').Length == 0 && c.Contains('-')))
            throw new FormatException("no Markdown table (a header row of | cells |, then a |---| row)");
        return new HtmlTable(Cells(lines[0]), [.. lines.Skip(2).Select(l => (IReadOnlyList<string>)Cells(l))]);
    }

    /// <summary>The text of one cell (invariant culture; fractions to four significant places).</summary>
    public static string Cell(object? value) => value switch
    {
        null => "",
        double d => Number(d),
        float f => Number(f),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Number(double v) =>
        double.IsFinite(v) && v != Math.Round(v) ? v.ToString("G4", CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);

    /// <summary>The table as HTML (cells encoded).</summary>
    public string ToHtml()
    {
        var html = new StringBuilder("<table><thead><tr>");
        foreach (var c in Columns) html.Append("<th>").Append(WebUtility.HtmlEncode(c)).Append("</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in Rows)
        {
            html.Append("<tr>");
            foreach (var cell in row) html.Append("<td>").Append(WebUtility.HtmlEncode(cell)).Append("</td>");
            html.Append("</tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    /// <summary>The table as aligned text columns.</summary>
    public override string ToString()
    {
        var widths = Columns.Select((c, i) => Rows.Select(r => r[i].Length).Append(c.Length).Max()).ToArray();
        string Line(IReadOnlyList<string> cells) => string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd();
        return string.Join(Environment.NewLine, Rows.Select(Line).Prepend(Line(Columns)));
    }
}
