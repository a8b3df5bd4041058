using System.Buffers.Binary;

namespace I3D.MLNet.Video;

/// <summary>
/// The colour matrix and range an MP4 / MOV file declares for its video: the sample entry's <c>colr</c> box (nclx or
/// nclc), else the H.264 sequence parameter set's VUI in <c>avcC</c>. OpenCV's FFmpeg backend converts every frame
/// with the BT.601 limited-range matrix whatever the stream says, while ffmpeg (and the videos' authors) use the
/// declared one; <see cref="Correction"/> maps the first onto the second. Codes are those of ITU-T H.273
/// (1 BT.709, 5 and 6 BT.601, 7 SMPTE 240M, 4 FCC, 9 and 10 BT.2020; 2 unspecified).
/// </summary>
internal readonly record struct VideoColorTags(int MatrixCoefficients, bool FullRange)
{
    /// <summary>The file's tags, or null when it declares none this reader understands (then BT.601 limited, as ffmpeg
    /// assumes for untagged video). Never throws: a damaged header is the decoder's to report.</summary>
    public static VideoColorTags? Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return ReadMp4(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or IndexOutOfRangeException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>(Kr, Kb) of a matrix, or null for one that needs no correction (BT.601) or is not known.</summary>
    private static (double Kr, double Kb)? Coefficients(int matrix) => matrix switch
    {
        1 => (0.2126, 0.0722),
        4 => (0.30, 0.11),
        7 => (0.212, 0.087),
        9 or 10 => (0.2627, 0.0593),
        _ => null,
    };

    /// <summary>
    /// The affine map (3 x 4, RGB order, row-major) from RGB converted as BT.601 limited range to RGB converted with
    /// these tags, or null when they are BT.601 limited range already. Both conversions are affine in (Y, Cb, Cr), so the
    /// map is exact except where the BT.601 conversion clipped (colours outside its gamut).
    /// </summary>
    public double[]? Correction()
    {
        var coefficients = Coefficients(MatrixCoefficients);
        if (coefficients is null && !FullRange) return null;
        var (kr, kb) = coefficients ?? (0.299, 0.114);
        double[,] from = YuvToRgb(0.299, 0.114, fullRange: false), to = YuvToRgb(kr, kb, FullRange);
        double[] fromOffset = [16, 128, 128], toOffset = [FullRange ? 0 : 16, 128, 128];
        // rgb601 = from (yuv - fromOffset)  =>  yuv = from^-1 rgb601 + fromOffset;  rgb = to (yuv - toOffset).
        var inverse = Invert(from);
        var matrix = new double[12];
        for (int r = 0; r < 3; r++)
        {
            double offset = 0;
            for (int c = 0; c < 3; c++)
            {
                double sum = 0;
                for (int k = 0; k < 3; k++) sum += to[r, k] * inverse[k, c];
                matrix[r * 4 + c] = sum;
                offset += to[r, c] * (fromOffset[c] - toOffset[c]);
            }
            matrix[r * 4 + 3] = offset;
        }
        return matrix;
    }

    /// <summary>R, G, B from (Y - offset, Cb - 128, Cr - 128) for a matrix with luma weights Kr, Kb, in 8-bit levels.</summary>
    private static double[,] YuvToRgb(double kr, double kb, bool fullRange)
    {
        double kg = 1 - kr - kb, y = fullRange ? 1 : 255.0 / 219, c = fullRange ? 1 : 255.0 / 224;
        return new double[,]
        {
            { y, 0, 2 * (1 - kr) * c },
            { y, -2 * (1 - kb) * kb / kg * c, -2 * (1 - kr) * kr / kg * c },
            { y, 2 * (1 - kb) * c, 0 },
        };
    }

    private static double[,] Invert(double[,] m)
    {
        double a = m[0, 0], b = m[0, 1], c = m[0, 2], d = m[1, 0], e = m[1, 1], f = m[1, 2], g = m[2, 0], h = m[2, 1], i = m[2, 2];
        double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        return new double[,]
        {
            { (e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det },
            { (f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det },
            { (d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det },
        };
    }

    // Boxes that hold the video sample entry, from the file's top level down to stsd.
    private static readonly string[] Path = ["moov", "trak", "mdia", "minf", "stbl", "stsd"];
    private static readonly HashSet<string> VisualEntries = ["avc1", "avc3", "hvc1", "hev1", "mp4v", "vp09", "av01", "mjpg", "jpeg"];
    private const int MaxMoovBytes = 64 << 20;

    private static VideoColorTags? ReadMp4(Stream stream)
    {
        Span<byte> header = stackalloc byte[16];
        // The top level: find moov (it may follow the media data), read it whole (it is small), then walk down.
        long position = 0, length = stream.Length;
        while (position + 8 <= length)
        {
            stream.Position = position;
            if (stream.ReadAtLeast(header, 16, throwOnEndOfStream: false) < 8) return null;
            long size = BinaryPrimitives.ReadUInt32BigEndian(header);
            string type = System.Text.Encoding.ASCII.GetString(header.Slice(4, 4));
            int headerSize = 8;
            if (size == 1) { size = (long)BinaryPrimitives.ReadUInt64BigEndian(header[8..]); headerSize = 16; }
            else if (size == 0) size = length - position;
            if (size < headerSize || position + size > length) return null;
            if (type == "moov")
            {
                if (size - headerSize > MaxMoovBytes) return null;
                var moov = new byte[size - headerSize];
                stream.Position = position + headerSize;
                stream.ReadExactly(moov);
                return FromMoov(moov);
            }
            position += size;
        }
        return null;
    }

    private static VideoColorTags? FromMoov(byte[] moov)
    {
        foreach (var stsd in Descend(moov, 0, moov.Length, 1))
        {
            // stsd: version and flags (4), entry count (4), then sample entries.
            int p = stsd.Start + 8;
            while (p + 8 <= stsd.End)
            {
                var (size, type, header) = Box(moov, p, stsd.End);
                if (size == 0) break;
                if (VisualEntries.Contains(type) && ColorOfEntry(moov, p + header + 78, p + size) is { } tags) return tags;
                p += size;
            }
        }
        return null;
    }

    /// <summary>The stsd boxes under <c>Path[depth..]</c> within [start, end).</summary>
    private static IEnumerable<(int Start, int End)> Descend(byte[] data, int start, int end, int depth)
    {
        for (int p = start; p + 8 <= end;)
        {
            var (size, type, header) = Box(data, p, end);
            if (size == 0) yield break;
            if (type == Path[depth])
            {
                if (depth == Path.Length - 1) yield return (p + header, p + size);
                else foreach (var found in Descend(data, p + header, p + size, depth + 1)) yield return found;
            }
            p += size;
        }
    }

    /// <summary>A box at <paramref name="p"/>: its total size (0 when it does not fit), type and header length.</summary>
    private static (int Size, string Type, int Header) Box(byte[] data, int p, int end)
    {
        long size = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(p));
        string type = System.Text.Encoding.ASCII.GetString(data, p + 4, 4);
        int header = 8;
        if (size == 1 && p + 16 <= end) { size = (long)BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(p + 8)); header = 16; }
        else if (size == 0) size = end - p;
        return size < header || p + size > end ? (0, type, header) : ((int)size, type, header);
    }

    /// <summary>The colr box of a visual sample entry's children in [start, end), else its avcC's SPS.</summary>
    private static VideoColorTags? ColorOfEntry(byte[] data, int start, int end)
    {
        VideoColorTags? fromSps = null;
        for (int p = start; p + 8 <= end;)
        {
            var (size, type, header) = Box(data, p, end);
            if (size == 0) break;
            int body = p + header;
            if (type == "colr" && size - header >= 10)
            {
                string kind = System.Text.Encoding.ASCII.GetString(data, body, 4);
                int matrix = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(body + 8));
                if (kind == "nclx" && size - header >= 11) return new VideoColorTags(matrix, (data[body + 10] & 0x80) != 0);
                if (kind == "nclc") return new VideoColorTags(matrix, false);
            }
            if (type == "avcC" && size - header >= 8 && (data[body + 5] & 0x1F) >= 1)
            {
                int spsLength = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(body + 6));
                if (body + 8 + spsLength <= p + size) fromSps = H264Sps.Color(data.AsSpan(body + 8, spsLength));
            }
            p += size;
        }
        return fromSps;
    }
}

/// <summary>Reads the colour description of an H.264 sequence parameter set's VUI (ITU-T H.264 7.3.2.1.1, E.1.1).</summary>
internal static class H264Sps
{
    public static VideoColorTags? Color(ReadOnlySpan<byte> nal)
    {
        // Emulation prevention: 00 00 03 -> 00 00.
        var rbsp = new List<byte>(nal.Length);
        int zeros = 0;
        foreach (byte b in nal)
        {
            if (zeros >= 2 && b == 3) { zeros = 0; continue; }
            rbsp.Add(b);
            zeros = b == 0 ? zeros + 1 : 0;
        }
        var r = new BitReader([.. rbsp]);
        r.Bits(8); // NAL header
        int profile = r.Bits(8);
        r.Bits(16); // constraint flags, level
        r.Ue(); // seq_parameter_set_id
        if (profile is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
        {
            int chroma = r.Ue();
            if (chroma == 3) r.Bits(1);
            r.Ue(); r.Ue(); r.Bits(1);
            if (r.Bits(1) == 1)
                for (int i = 0; i < (chroma == 3 ? 12 : 8); i++)
                    if (r.Bits(1) == 1) SkipScalingList(r, i < 6 ? 16 : 64);
        }
        r.Ue(); // log2_max_frame_num_minus4
        int pocType = r.Ue();
        if (pocType == 0) r.Ue();
        else if (pocType == 1)
        {
            r.Bits(1); r.Se(); r.Se();
            int cycle = r.Ue();
            if (cycle > 255) return null;
            for (int i = 0; i < cycle; i++) r.Se();
        }
        r.Ue(); r.Bits(1); r.Ue(); r.Ue(); // max refs, gaps, width and height in macroblocks
        if (r.Bits(1) == 0) r.Bits(1); // frame_mbs_only_flag, mb_adaptive_frame_field_flag
        r.Bits(1); // direct_8x8_inference_flag
        if (r.Bits(1) == 1) { r.Ue(); r.Ue(); r.Ue(); r.Ue(); } // cropping
        if (r.Bits(1) == 0) return null; // no VUI
        if (r.Bits(1) == 1 && r.Bits(8) == 255) r.Bits(32); // aspect ratio (extended SAR)
        if (r.Bits(1) == 1) r.Bits(1); // overscan
        if (r.Bits(1) == 0) return null; // no video signal type
        r.Bits(3); // video_format
        bool fullRange = r.Bits(1) == 1;
        if (r.Bits(1) == 0) return fullRange ? new VideoColorTags(2, true) : null; // no colour description
        r.Bits(16); // primaries, transfer
        return new VideoColorTags(r.Bits(8), fullRange);
    }

    private static void SkipScalingList(BitReader r, int size)
    {
        int last = 8, next = 8;
        for (int j = 0; j < size; j++)
        {
            if (next != 0) next = (last + r.Se() + 256) % 256;
            last = next == 0 ? last : next;
        }
    }

    private sealed class BitReader(byte[] data)
    {
        private int _bit;

        public int Bits(int n)
        {
            int value = 0;
            for (int i = 0; i < n; i++, _bit++)
            {
                if (_bit >> 3 >= data.Length) throw new InvalidDataException("the SPS ends early");
                value = (value << 1) | ((data[_bit >> 3] >> (7 - (_bit & 7))) & 1);
            }
            return value;
        }

        public int Ue()
        {
            int zeros = 0;
            while (Bits(1) == 0) if (++zeros > 30) throw new InvalidDataException("a bad Exp-Golomb code in the SPS");
            return (int)((1L << zeros) - 1 + (zeros == 0 ? 0 : Bits(zeros)));
        }

        public int Se()
        {
            int k = Ue();
            return (k & 1) == 1 ? (k + 1) / 2 : -(k / 2);
        }
    }
}
