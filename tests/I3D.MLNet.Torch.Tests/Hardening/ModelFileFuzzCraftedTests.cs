using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using I3D.MLNet.ModelZip;
using I3D.MLNet.Testing;
using I3D.MLNet.Torch.Weights;
using Microsoft.ML;
using TorchSharp;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Hardening;

/// <summary>
/// The bounded-memory cases the fuzzing (<see cref="ModelFileFuzzTests"/>) reaches only by chance, as crafted files: a length
/// field that says 10^12 elements (or wraps around 2^63 once multiplied by the element size) is refused before anything is
/// allocated, quickly, with the file and the field named; and each of our transformers' zips refuses a newer format version
/// naming the file and the version.
/// </summary>
public sealed class ModelFileFuzzCraftedTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-model-crafted-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly TimeSpan Quickly = TimeSpan.FromSeconds(5);

    private static T Quick<T>(Func<T> action)
    {
        var watch = Stopwatch.StartNew();
        var result = action();
        Assert.True(watch.Elapsed < Quickly, $"took {watch.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    /// <summary>A legacy (pre-1.6) torch.save file of one float tensor "w" [4] whose storage header says <paramref name="numel"/> elements.</summary>
    private static byte[] LegacyFile(long numel)
    {
        static byte[] Pickle(params byte[][] parts) => [0x80, 2, .. parts.SelectMany(p => p), (byte)'.'];
        static byte[] Str(string s) => [(byte)'X', .. BitConverter.GetBytes(s.Length), .. Encoding.UTF8.GetBytes(s)];
        static byte[] Int(int v) => [(byte)'J', .. BitConverter.GetBytes(v)];
        static byte[] Global(string module, string name) => Encoding.ASCII.GetBytes($"c{module}\n{name}\n");
        byte[] magic = [0x8a, 10, .. Convert.FromHexString("1950a86a20f9469cfc6c").Reverse()];
        var data = new List<byte>();
        data.AddRange(Pickle(magic));
        data.AddRange(Pickle([(byte)'M', 0xe9, 0x03])); // protocol 1001
        data.AddRange(Pickle("}"u8.ToArray()));
        data.AddRange(Pickle(Global("collections", "OrderedDict"), ")R("u8.ToArray(), Str("w"), Global("torch._utils", "_rebuild_tensor_v2"),
            "(("u8.ToArray(), Str("storage"), Global("torch", "FloatStorage"), Str("0"), Str("cpu"), Int(4), "Nt"u8.ToArray(), "Q"u8.ToArray(),
            Int(0), "("u8.ToArray(), Int(4), "t("u8.ToArray(), Int(1), "t"u8.ToArray(), [0x89], Global("collections", "OrderedDict"), ")RtRu"u8.ToArray()));
        data.AddRange(Pickle("]("u8.ToArray(), Str("0"), "e"u8.ToArray()));
        data.AddRange(BitConverter.GetBytes(numel));
        data.AddRange(new byte[16]);
        return [.. data];
    }

    [Fact]
    public void TheCraftedLegacyFileReadsWhenItsStorageHeaderIsRight()
    {
        string path = Path.Combine(dir, "ok.pt");
        File.WriteAllBytes(path, LegacyFile(4));
        var tensors = TorchStateDict.Read(path);
        var (name, w) = Assert.Single(tensors);
        Assert.Equal("w", name);
        Assert.Equal([4L], w.shape);
        w.Dispose();
    }

    [Theory]
    [InlineData(1_000_000_000_000L)] // 10^12 elements: 4 TB
    [InlineData(1L << 61)]            // times 4 bytes: 2^63, negative once wrapped (was an OverflowException from new byte[])
    [InlineData(-1L)]
    public void ALegacyStorageHeaderOfTooManyElementsIsRefusedBeforeAllocating(long numel)
    {
        string path = Path.Combine(dir, "huge.pt");
        File.WriteAllBytes(path, LegacyFile(numel));
        var e = Quick(() => Assert.Throws<WeightFileException>(() => TorchStateDict.Read(path)));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("storage '0'", e.Message);
        Assert.Null(e.InnerException);
    }

    /// <summary>TorchSharp's weight format (<c>Module.save</c>) for a Linear(2, 3)'s "weight" with the given rank and shape, then its bias.</summary>
    private static byte[] TorchSharpFile(long rank, long[] shape)
    {
        static void Number(BinaryWriter w, long v)
        {
            do { byte b = (byte)(v & 0x7f); v >>= 7; w.Write(v == 0 ? b : (byte)(b | 0x80)); } while (v != 0);
        }
        using var memory = new MemoryStream();
        using (var w = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true))
        {
            Number(w, 2);
            w.Write("weight");
            Number(w, (long)ScalarType.Float32);
            Number(w, rank);
            foreach (var d in shape) Number(w, d);
            w.Write(new byte[6 * 4]);
            w.Write("bias");
            Number(w, (long)ScalarType.Float32);
            Number(w, 1);
            Number(w, 3);
            w.Write(new byte[3 * 4]);
        }
        return memory.ToArray();
    }

    [Fact]
    public void TorchSharpWeightsOfTheRightShapeLoad()
    {
        using var linear = nn.Linear(2, 3);
        using var reader = new BinaryReader(new MemoryStream(TorchSharpFile(2, [3, 2])));
        TorchSharpWeights.Load(linear, reader, "the crafted weights");
        Assert.Equal(0f, linear.weight!.abs().sum().item<float>());
    }

    [Theory]
    [InlineData(2L, new[] { 1_000_000_000_000L, 2L }, "shape [1000000000000, 2]")]
    [InlineData(1_000_000_000_000L, new long[0], "1000000000000 dimensions")] // TorchSharp itself allocates new long[rank]
    public void ATorchSharpShapeOf10To12ElementsIsRefusedBeforeAllocating(long rank, long[] shape, string said)
    {
        using var linear = nn.Linear(2, 3);
        using var reader = new BinaryReader(new MemoryStream(TorchSharpFile(rank, shape)));
        var e = Quick(() => Assert.Throws<WeightFileException>(() => TorchSharpWeights.Load(linear, reader, "model.zip: the weights of the rgb stream")));
        Assert.StartsWith("model.zip: the weights of the rgb stream: tensor 'weight'", e.Message);
        Assert.Contains(said, e.Message);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-5)]
    public void ABlockLengthBeyondTheEntryIsRefusedBeforeAllocating(int length)
    {
        using var reader = new BinaryReader(new MemoryStream([.. BitConverter.GetBytes(length), 1, 2, 3]));
        var e = Quick(() => Assert.Throws<InvalidDataException>(() => ModelZipFormat.ReadBlock(reader)));
        Assert.Contains($"it says {length} bytes follow, the entry has 3", e.Message);
    }

    [Theory]
    [InlineData("I3DVIDLD")]
    [InlineData("I3DCLIPS")]
    [InlineData("I3DFLOWX")]
    public void EachTransformerZipRefusesANewerVersionNamingTheFile(string signature)
    {
        var ml = new MLContext(1);
        var paths = ModelFileFuzz.Paths(ml);
        var model = ml.Transforms.LoadVideo("Frames", "Path").Append(ml.Transforms.SampleClips("Clip", "Frames"))
            .Append(ml.Transforms.ExtractOpticalFlow("Flow", "Frames")).Fit(paths);
        string zip = Path.Combine(dir, $"{signature}.zip");
        ml.Model.Save(model, paths.Schema, zip);
        ModelZipFile.Load(ml, zip, out _);
        Assert.Equal(1, ZipVersions.Set(zip, signature, 0x00090001));
        var e = Assert.Throws<InvalidDataException>(() => ModelZipFile.Load(new MLContext(1), zip, out _));
        Assert.StartsWith(zip, e.Message);
        Assert.True(e.Message.Contains("version", StringComparison.OrdinalIgnoreCase), e.ToString());
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void AZipEntryClaimingGigabytesIsRefusedBeforeMLNetAllocatesThem()
    {
        var ml = new MLContext(1);
        var paths = ModelFileFuzz.Paths(ml);
        string zip = Path.Combine(dir, "claims.zip");
        ml.Model.Save(ml.Transforms.LoadVideo("Frames", "Path").Fit(paths), paths.Schema, zip);
        var bytes = File.ReadAllBytes(zip);
        // The first central directory record (PK 1 2): its uncompressed size, 24 bytes in (ML.NET reads an entry into memory by it).
        int central = bytes.AsSpan().IndexOf("PK\x01\x02"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(central + 24), 0x7FFFFFF0);
        File.WriteAllBytes(zip, bytes);
        var e = Quick(() => Assert.Throws<InvalidDataException>(() => ModelZipFile.Load(new MLContext(1), zip, out _)));
        Assert.StartsWith(zip, e.Message);
        Assert.Contains("says it holds 2147483632 bytes", e.Message);
    }

    [Fact]
    public void AMissingOrDamagedZipNamesTheFile()
    {
        string missing = Path.Combine(dir, "absent.zip");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => ModelZipFile.Load(new MLContext(1), missing, out _)).Message);
        string text = Path.Combine(dir, "notes.zip");
        File.WriteAllText(text, "not a zip");
        var e = Assert.Throws<InvalidDataException>(() => ModelZipFile.Load(new MLContext(1), text, out _));
        Assert.StartsWith(text, e.Message);
    }
}
