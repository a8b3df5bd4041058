using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Weights;

/// <summary>
/// TorchSharp's own weight format (<c>Module.save(BinaryWriter)</c>, what our model zips hold per stream): the tensor count,
/// then per tensor its state_dict key, element type, rank, shape (LEB128 numbers) and bytes. <see cref="Load"/> checks all of
/// it against the module before TorchSharp's <c>Module.load</c> reads it (then from the same position: a training
/// checkpoint has more after the weights): TorchSharp allocates what the file's lengths say, and its errors name neither the
/// file nor the tensor.
/// </summary>
internal static class TorchSharpWeights
{
    /// <summary>Loads the weights <paramref name="reader"/> holds into <paramref name="module"/>, or throws a
    /// <see cref="WeightFileException"/> naming <paramref name="source"/> and what is wrong (tensor, field) without having
    /// allocated more than the bytes there are.</summary>
    public static void Load(nn.Module module, BinaryReader reader, string source)
    {
        var stream = reader.BaseStream;
        if (!stream.CanSeek)
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            memory.Position = 0;
            using var copy = new BinaryReader(memory);
            Load(module, copy, source);
            return;
        }
        long start = stream.Position;
        var expected = module.state_dict();
        long count = Number(stream, source, "the tensor count");
        if (count != expected.Count) throw new WeightFileException($"{source}: it holds {count} tensors, the network has {expected.Count}");
        for (long i = 0; i < count; i++)
        {
            string key;
            try { key = reader.ReadString(); }
            catch (Exception e) when (e is EndOfStreamException or FormatException) { throw new WeightFileException($"{source}: the name of tensor #{i} is damaged ({e.Message})", e); }
            if (!expected.TryGetValue(key, out var target)) throw new WeightFileException($"{source}: tensor #{i} is '{key}', which the network has not");
            long type = Number(stream, source, $"the element type of '{key}'");
            if (type != (long)target.dtype) throw new WeightFileException($"{source}: tensor '{key}' has element type {type}, the network's is {target.dtype}");
            long rank = Number(stream, source, $"the rank of '{key}'");
            if (rank != target.shape.Length) throw new WeightFileException($"{source}: tensor '{key}' has {rank} dimensions, the network's {target.shape.Length}");
            var shape = new long[rank];
            for (int d = 0; d < rank; d++) shape[d] = Number(stream, source, $"dimension {d} of '{key}'");
            if (!shape.SequenceEqual(target.shape))
                throw new WeightFileException($"{source}: tensor '{key}' has shape [{string.Join(", ", shape)}], the network's is [{string.Join(", ", target.shape)}]");
            long bytes = target.numel() * target.ElementSize, left = stream.Length - stream.Position;
            if (bytes > left) throw new WeightFileException($"{source}: the data of tensor '{key}' is cut short ({left} of its {bytes} bytes): it is truncated");
            stream.Position += bytes;
        }
        stream.Position = start;
        module.load(reader);
    }

    /// <summary>An unsigned LEB128 number (TorchSharp's encoding of counts, types and dimensions).</summary>
    private static long Number(Stream stream, string source, string what)
    {
        long value = 0;
        for (int shift = 0; ; shift += 7)
        {
            int b = stream.ReadByte();
            if (b < 0) throw new WeightFileException($"{source}: it ends inside {what}: it is truncated");
            if (shift == 63 && b > 0) throw new WeightFileException($"{source}: {what} does not fit 63 bits");
            value |= (long)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
    }
}
