namespace I3D.MLNet.Interactive.Pictures;

/// <summary>
/// A small animated-GIF writer (GIF89a, looping), for clips in notebooks: SkiaSharp decodes GIF but does not encode it.
/// Colours are mapped to one fixed 6 x 7 x 6 colour cube (252 colours, nearest level per channel, no dithering: the
/// largest error is half a level step, 25.5 / 21.25 levels), and frames are LZW-compressed as the format prescribes.
/// </summary>
internal static class GifEncoder
{
    private const int RedLevels = 6, GreenLevels = 7, BlueLevels = 6;

    /// <summary>Encodes frames of RGB bytes (H x W x 3 each) shown <paramref name="delayCentiseconds"/> each.</summary>
    public static byte[] Encode(IReadOnlyList<byte[]> rgbFrames, int width, int height, int delayCentiseconds)
    {
        if (width is <= 0 or > 65535 || height is <= 0 or > 65535) throw new ArgumentException($"a GIF cannot be {width}x{height}");
        using var output = new MemoryStream();
        var w = new BinaryWriter(output);
        w.Write("GIF89a"u8);
        w.Write((ushort)width);
        w.Write((ushort)height);
        w.Write((byte)0xF7); // global colour table of 256 entries, 8 bits per primary
        w.Write((byte)0);    // background colour index
        w.Write((byte)0);    // pixel aspect ratio: not given
        for (int i = 0; i < 256; i++)
        {
            var (r, g, b) = PaletteColour(i);
            w.Write(r);
            w.Write(g);
            w.Write(b);
        }
        // NETSCAPE2.0 application extension: loop for ever.
        w.Write([0x21, 0xFF, 0x0B]);
        w.Write("NETSCAPE2.0"u8);
        w.Write([0x03, 0x01, 0x00, 0x00, 0x00]);

        var indices = new byte[width * height];
        foreach (var frame in rgbFrames)
        {
            if (frame.Length != width * height * 3) throw new ArgumentException($"a frame of {frame.Length} bytes in a {width}x{height} RGB GIF");
            for (int p = 0; p < indices.Length; p++) indices[p] = PaletteIndex(frame[p * 3], frame[p * 3 + 1], frame[p * 3 + 2]);
            w.Write([0x21, 0xF9, 0x04, 0x00]); // graphic control extension: no transparency, no disposal
            w.Write((ushort)Math.Clamp(delayCentiseconds, 0, 65535));
            w.Write([0x00, 0x00]);
            w.Write((byte)0x2C); // image descriptor: whole canvas, no local colour table
            w.Write((ushort)0);
            w.Write((ushort)0);
            w.Write((ushort)width);
            w.Write((ushort)height);
            w.Write((byte)0);
            w.Write((byte)8); // LZW minimum code size
            WriteSubBlocks(w, Lzw(indices));
        }
        w.Write((byte)0x3B);
        w.Flush();
        return output.ToArray();
    }

    /// <summary>The palette entry for colour index <paramref name="index"/> (unused entries are black).</summary>
    public static (byte R, byte G, byte B) PaletteColour(int index)
    {
        if (index >= RedLevels * GreenLevels * BlueLevels) return (0, 0, 0);
        int r = index / (GreenLevels * BlueLevels), g = index / BlueLevels % GreenLevels, b = index % BlueLevels;
        return (Level(r, RedLevels), Level(g, GreenLevels), Level(b, BlueLevels));
    }

    public static byte PaletteIndex(byte r, byte g, byte b) =>
        (byte)((Nearest(r, RedLevels) * GreenLevels + Nearest(g, GreenLevels)) * BlueLevels + Nearest(b, BlueLevels));

    private static byte Level(int i, int levels) => (byte)Math.Round(i * 255.0 / (levels - 1));

    private static int Nearest(byte v, int levels) => (int)Math.Round(v * (levels - 1) / 255.0, MidpointRounding.AwayFromZero);

    // Variable-length LZW (GIF flavour): 8-bit symbols, clear code 256, end code 257, codes up to 12 bits, codes
    // packed least significant bit first; the table restarts with a clear code when it is full.
    private static byte[] Lzw(ReadOnlySpan<byte> symbols)
    {
        const int clear = 256, end = 257, maxCode = 4096;
        var output = new List<byte>(symbols.Length / 2);
        int bitBuffer = 0, bitCount = 0, codeSize = 9, next = end + 1;
        var table = new Dictionary<int, int>();
        void Emit(int code)
        {
            bitBuffer |= code << bitCount;
            bitCount += codeSize;
            while (bitCount >= 8)
            {
                output.Add((byte)bitBuffer);
                bitBuffer >>= 8;
                bitCount -= 8;
            }
        }

        Emit(clear);
        int prefix = symbols[0];
        for (int i = 1; i < symbols.Length; i++)
        {
            int key = (prefix << 8) | symbols[i];
            if (table.TryGetValue(key, out int code))
            {
                prefix = code;
                continue;
            }
            Emit(prefix);
            if (next < maxCode)
            {
                table[key] = next++;
                // The decoder widens its codes one code later than the encoder adds them.
                if (next > (1 << codeSize) && codeSize < 12) codeSize++;
            }
            else
            {
                Emit(clear);
                table.Clear();
                next = end + 1;
                codeSize = 9;
            }
            prefix = symbols[i];
        }
        Emit(prefix);
        Emit(end);
        if (bitCount > 0) output.Add((byte)bitBuffer);
        return [.. output];
    }

    private static void WriteSubBlocks(BinaryWriter w, byte[] data)
    {
        for (int i = 0; i < data.Length; i += 255)
        {
            int n = Math.Min(255, data.Length - i);
            w.Write((byte)n);
            w.Write(data, i, n);
        }
        w.Write((byte)0);
    }
}
