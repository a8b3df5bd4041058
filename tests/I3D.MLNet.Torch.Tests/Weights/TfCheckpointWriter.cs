using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using I3D.MLNet.Torch.Weights.TensorFlow;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Tests.Shared;

/// <summary>
/// Test-only writer of TensorFlow tensor bundles (index table + one data shard), the inverse of the reader: used to
/// make checkpoints of known values, and damaged ones. Writes prefix-compressed keys with a restart point every
/// <see cref="RestartInterval"/> entries and cuts data blocks at about <see cref="BlockSize"/> bytes, as LevelDB does.
/// </summary>
internal static class TfCheckpointWriter
{
    public const int RestartInterval = 16, BlockSize = 4096;

    /// <summary>Writes <c>prefix.index</c> (the header first, then the entries sorted by name).</summary>
    public static void WriteIndex(string prefix, IEnumerable<BundleEntry> entries, int shards = 1, byte blockType = 0)
    {
        var records = new List<(byte[] Key, byte[] Value)> { ([], Header(shards)) };
        records.AddRange(entries.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => (System.Text.Encoding.UTF8.GetBytes(e.Name), Entry(e))));
        var file = new MemoryStream();
        var index = new List<(byte[] Key, byte[] Handle)>();
        for (int start = 0; start < records.Count;)
        {
            var block = new BlockBuilder();
            int i = start;
            while (i < records.Count && (i == start || block.Length < BlockSize)) { block.Add(records[i].Key, records[i].Value); i++; }
            byte[] bytes = block.Finish();
            index.Add((records[i - 1].Key, Handle(file.Position, bytes.Length)));
            WriteBlock(file, bytes, blockType);
            start = i;
        }
        long metaOffset = file.Position;
        WriteBlock(file, new BlockBuilder().Finish(), 0);
        long indexOffset = file.Position;
        var indexBlock = new BlockBuilder();
        foreach (var (key, handle) in index) indexBlock.Add(key, handle);
        byte[] indexBytes = indexBlock.Finish();
        WriteBlock(file, indexBytes, 0);
        var footer = new byte[48];
        byte[] handles = [.. Handle(metaOffset, 8), .. Handle(indexOffset, indexBytes.Length)]; // an empty block is 8 bytes
        handles.CopyTo(footer, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(40), 0xdb4775248b80fb57UL);
        file.Write(footer);
        File.WriteAllBytes(prefix + ".index", file.ToArray());
    }

    /// <summary>
    /// A module's weights as a kinetics-i3d checkpoint under <paramref name="scope"/> (TensorFlow layout: kernels
    /// T x H x W x in x out, BatchNorm vectors 1 x 1 x 1 x 1 x C, no gamma). Returns the entries written.
    /// </summary>
    public static List<BundleEntry> WriteModule(nn.Module module, string prefix, string scope = "RGB/inception_i3d/", IEnumerable<string>? extraSlots = null)
    {
        var state = module.state_dict();
        var tensors = new List<(string Name, Tensor Value)>();
        foreach (var (tf, torchUnit) in KineticsI3dNames.Units())
            foreach (var (tfParam, torchParam) in KineticsI3dNames.Parameters)
                if (state.TryGetValue($"{torchUnit}.{torchParam}", out var v))
                    tensors.Add(($"{scope}{tf}/{tfParam}", v.dim() == 5 ? v.permute(2, 3, 4, 1, 0).contiguous() : v.reshape(1, 1, 1, 1, v.numel())));
        foreach (var slot in extraSlots ?? []) tensors.Add(($"{scope}{slot}", zeros([3])));
        return WriteData(prefix, tensors);
    }

    /// <summary>Writes the tensors' bytes back to back into the one data shard, and the index describing them.</summary>
    public static List<BundleEntry> WriteData(string prefix, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var entries = new List<BundleEntry>();
        using (var data = File.Create(prefix + ".data-00000-of-00001"))
            foreach (var (name, value) in tensors)
            {
                using var cpu = value.to(ScalarType.Float32).contiguous();
                var bytes = MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray();
                entries.Add(new BundleEntry(name, 1, cpu.shape, 0, data.Position, bytes.Length, Crc32C.Mask(Crc32C.Compute(bytes))));
                data.Write(bytes);
            }
        WriteIndex(prefix, entries);
        return entries;
    }

    private static byte[] Header(int shards)
    {
        var s = new MemoryStream();
        var o = new CodedOutputStream(s);
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteInt32(shards);
        o.WriteTag(3, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(0x08, 0x01)); // version { producer: 1 }
        o.Flush();
        return s.ToArray();
    }

    private static byte[] Entry(BundleEntry e)
    {
        var shape = new MemoryStream();
        var so = new CodedOutputStream(shape);
        foreach (long d in e.Shape)
        {
            var dim = new MemoryStream();
            var dimOut = new CodedOutputStream(dim);
            dimOut.WriteTag(1, WireFormat.WireType.Varint); dimOut.WriteInt64(d);
            dimOut.Flush();
            so.WriteTag(2, WireFormat.WireType.LengthDelimited); so.WriteBytes(ByteString.CopyFrom(dim.ToArray()));
        }
        so.Flush();
        var s = new MemoryStream();
        var o = new CodedOutputStream(s);
        o.WriteTag(1, WireFormat.WireType.Varint); o.WriteEnum(e.DType);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited); o.WriteBytes(ByteString.CopyFrom(shape.ToArray()));
        if (e.ShardId != 0) { o.WriteTag(3, WireFormat.WireType.Varint); o.WriteInt32(e.ShardId); }
        if (e.Offset != 0) { o.WriteTag(4, WireFormat.WireType.Varint); o.WriteInt64(e.Offset); }
        o.WriteTag(5, WireFormat.WireType.Varint); o.WriteInt64(e.Size);
        o.WriteTag(6, WireFormat.WireType.Fixed32); o.WriteFixed32(e.MaskedCrc32C);
        o.Flush();
        return s.ToArray();
    }

    private static byte[] Handle(long offset, long size)
    {
        var s = new MemoryStream();
        var o = new CodedOutputStream(s);
        o.WriteUInt64((ulong)offset);
        o.WriteUInt64((ulong)size);
        o.Flush();
        return s.ToArray();
    }

    private static void WriteBlock(Stream file, byte[] block, byte type)
    {
        file.Write(block);
        var trailer = new byte[5];
        trailer[0] = type;
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(1), Crc32C.Mask(Crc32C.Compute([.. block, type])));
        file.Write(trailer);
    }

    /// <summary>LevelDB's block builder: shared-prefix keys, restart points every <see cref="RestartInterval"/> entries.</summary>
    private sealed class BlockBuilder
    {
        private readonly MemoryStream s = new();
        private readonly List<uint> restarts = [0];
        private byte[] last = [];
        private int sinceRestart;

        public long Length => s.Length;

        public void Add(byte[] key, byte[] value)
        {
            int shared = 0;
            if (sinceRestart == RestartInterval) { restarts.Add((uint)s.Length); sinceRestart = 0; }
            else while (shared < last.Length && shared < key.Length && last[shared] == key[shared]) shared++;
            var o = new CodedOutputStream(s, leaveOpen: true);
            o.WriteUInt32((uint)shared);
            o.WriteUInt32((uint)(key.Length - shared));
            o.WriteUInt32((uint)value.Length);
            o.Flush();
            s.Write(key, shared, key.Length - shared);
            s.Write(value);
            last = key;
            sinceRestart++;
        }

        public byte[] Finish()
        {
            Span<byte> u = stackalloc byte[4];
            foreach (uint r in restarts) { BinaryPrimitives.WriteUInt32LittleEndian(u, r); s.Write(u); }
            BinaryPrimitives.WriteUInt32LittleEndian(u, (uint)restarts.Count);
            s.Write(u);
            return s.ToArray();
        }
    }
}
