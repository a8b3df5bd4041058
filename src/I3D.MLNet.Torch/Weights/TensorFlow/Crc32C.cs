using System.Buffers.Binary;
using System.Numerics;

namespace I3D.MLNet.Torch.Weights.TensorFlow;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of LevelDB tables and TensorFlow tensor bundles, and LevelDB's "mask" that both
/// store instead of the plain value (a CRC of data that holds CRCs is weak, so the stored value is rotated and offset).
/// </summary>
internal static class Crc32C
{
    private const uint MaskDelta = 0xa282ead8u;

    /// <summary>The CRC-32C of <paramref name="data"/> (of "123456789": 0xE3069283).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Extend(~0u, data);

    /// <summary>Continues a CRC register (not the finished value) over more bytes.</summary>
    private static uint Extend(uint register, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) register = BitOperations.Crc32C(register, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) register = BitOperations.Crc32C(register, data[i]);
        return register;
    }

    /// <summary>What LevelDB and TensorFlow store: <c>((crc &gt;&gt; 15) | (crc &lt;&lt; 17)) + 0xa282ead8</c>.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    public static uint Unmask(uint masked)
    {
        uint rotated = masked - MaskDelta;
        return (rotated >> 17) | (rotated << 15);
    }
}
