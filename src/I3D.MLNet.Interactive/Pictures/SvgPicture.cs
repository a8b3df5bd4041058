namespace I3D.MLNet.Interactive.Pictures;

/// <summary>An SVG drawing (e.g. the chart an <c>i3d experiment</c> writes) that a notebook shows as an image.</summary>
public sealed class SvgPicture
{
    /// <summary>The MIME type of SVG (Jupyter keeps it as text).</summary>
    public const string Mime = "image/svg+xml";

    /// <summary>The drawing <paramref name="svg"/>: SVG text, starting with its <c>&lt;svg</c> element (an XML declaration may come first).</summary>
    /// <param name="svg">The SVG document.</param>
    /// <param name="caption">What it shows.</param>
    public SvgPicture(string svg, string? caption = null)
    {
        string start = svg.TrimStart();
        if (start.StartsWith("<?xml", StringComparison.Ordinal)) start = start[(start.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart();
        if (!start.StartsWith("<svg", StringComparison.Ordinal) || !svg.TrimEnd().EndsWith("</svg>", StringComparison.Ordinal))
            throw new ArgumentException($"{caption ?? "the text"}: not an SVG document (no <svg> ... </svg>)", nameof(svg));
        Svg = svg;
        Caption = caption;
    }

    /// <summary>The SVG document.</summary>
    public string Svg { get; }

    /// <summary>What the drawing shows.</summary>
    public string? Caption { get; }

    /// <summary>The SVG file at <paramref name="path"/>, captioned with its name; a missing or non-SVG file is one line naming it.</summary>
    /// <param name="path">An .svg file.</param>
    public static SvgPicture FromFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        return new SvgPicture(File.ReadAllText(path), path);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Caption ?? "drawing"} ({Mime}, {Svg.Length} characters)";
}
