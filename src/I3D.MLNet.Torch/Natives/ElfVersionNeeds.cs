using System.Buffers.Binary;
using System.Text;

namespace I3D.MLNet.Torch.Natives;

/// <summary>
/// Sets VER_FLG_WEAK on version needs (ELF64 little-endian .gnu.version_r) of a library whose name has a prefix and a
/// version above a bound. The dynamic loader then accepts a libstdc++ that lacks that version, as long as the symbols
/// actually used are present. Used at build time (build/BuildTools, on every build output of this repository) and at
/// run time (<see cref="TorchNatives"/>, on a copy, for applications built from the packages).
/// </summary>
internal static class ElfVersionNeeds
{
    /// <summary>The newest GLIBCXX version Debian 12's libstdc++ has (GCC 12): newer needs are the ones made weak.</summary>
    public static readonly Version Debian12Glibcxx = new(3, 4, 30);

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public static int WeakenNewerThan(string path, string prefix, Version bound)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{path}: not a 64-bit little-endian ELF file");
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3A));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(0x3C));
        Span<byte> Section(int i) => elf.AsSpan(checked((int)shoff + i * shentsize), shentsize);

        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            var sh = Section(i);
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            int offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            int strOffset = (int)BinaryPrimitives.ReadUInt64LittleEndian(Section(link)[0x18..]);

            int vn = offset;
            while (true)
            {
                int count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(vn + 2));
                int aux = vn + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(vn + 8));
                for (int k = 0; k < count; k++)
                {
                    int nameOffset = strOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux + 8));
                    int end = Array.IndexOf(elf, (byte)0, nameOffset);
                    string name = Encoding.ASCII.GetString(elf, nameOffset, end - nameOffset);
                    if (name.StartsWith(prefix, StringComparison.Ordinal) && Version.TryParse(name[prefix.Length..], out var v) && v > bound)
                    {
                        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(aux + 4));
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(aux + 4), (ushort)(flags | VerFlgWeak));
                        }
                        changed++;
                    }
                    uint nextAux = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(aux + 12));
                    if (nextAux == 0) break;
                    aux += (int)nextAux;
                }
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(vn + 12));
                if (next == 0) break;
                vn += (int)next;
            }
        }
        if (changed > 0)
        {
            string tmp = path + ".tmp";
            File.WriteAllBytes(tmp, elf);
            File.Move(tmp, path, overwrite: true);
        }
        return changed;
    }
}
