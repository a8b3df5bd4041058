namespace I3D.MLNet.Interactive.Pictures;

/// <summary>
/// An encoded picture that a notebook shows as an image output: <see cref="PngPicture"/> (strips, plots) or
/// <see cref="GifPicture"/> (animations).
/// </summary>
public abstract class Picture
{
    private protected Picture(byte[] bytes, int width, int height, string? caption)
    {
        Bytes = bytes;
        Width = width;
        Height = height;
        Caption = caption;
    }

    /// <summary>The encoded image (PNG or GIF bytes).</summary>
    public byte[] Bytes { get; }

    /// <summary><c>image/png</c> or <c>image/gif</c>.</summary>
    public abstract string MimeType { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>What the picture shows (its text form).</summary>
    public string? Caption { get; }

    /// <summary>Writes the encoded bytes (a .png or .gif file).</summary>
    public void Save(string path) => File.WriteAllBytes(path, Bytes);

    /// <inheritdoc/>
    public override string ToString() => $"{Caption ?? "picture"} ({MimeType}, {Width}x{Height}, {Bytes.Length} bytes)";
}

/// <summary>A PNG image that a notebook displays.</summary>
public sealed class PngPicture(byte[] bytes, int width, int height, string? caption = null) : Picture(bytes, width, height, caption)
{
    /// <summary>The MIME type of PNG.</summary>
    public const string Mime = "image/png";

    /// <inheritdoc/>
    public override string MimeType => Mime;
}

/// <summary>An (animated) GIF image that a notebook displays.</summary>
public sealed class GifPicture(byte[] bytes, int width, int height, string? caption = null) : Picture(bytes, width, height, caption)
{
    /// <summary>The MIME type of GIF.</summary>
    public const string Mime = "image/gif";

    /// <inheritdoc/>
    public override string MimeType => Mime;
}
