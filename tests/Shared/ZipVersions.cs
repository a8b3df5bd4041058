using System.IO.Compression;
using System.Text;

namespace I3D.MLNet.Testing;

/// <summary>Edits the format version of one transformer inside an ML.NET model zip, as a newer release would write it.</summary>
internal static class ZipVersions
{
    /// <summary>
    /// Sets the written and readable versions that follow the 8-character <paramref name="modelSignature"/> in the
    /// model header of every entry that holds it (ML.NET's header: the signature as 8 bytes, then the two uint32
    /// versions). Returns how many entries were changed.
    /// </summary>
    public static int Set(string zipPath, string modelSignature, uint version)
    {
        byte[] signature = Encoding.ASCII.GetBytes(modelSignature);
        int changed = 0;
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        foreach (var entry in zip.Entries.ToList())
        {
            byte[] bytes;
            using (var stream = entry.Open())
            using (var memory = new MemoryStream())
            {
                stream.CopyTo(memory);
                bytes = memory.ToArray();
            }
            int at = bytes.AsSpan().IndexOf(signature);
            if (at < 0 || at + 16 > bytes.Length) continue;
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 8, 4), version);
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 12, 4), version);
            string name = entry.FullName;
            entry.Delete();
            using (var stream = zip.CreateEntry(name).Open()) stream.Write(bytes);
            changed++;
        }
        return changed;
    }
}
