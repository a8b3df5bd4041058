using System.IO.Compression;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using TorchSharp;
using static TorchSharp.torch;

using I3D.MLNet.Tests.Shared;

namespace I3D.MLNet.Torch.Tests;

/// <summary>Weight files that must be refused with a clear error (never code execution, never a native crash).</summary>
public sealed class WeightFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-weights").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private string PathOf(string name) => Path.Combine(dir, name);

    // pickle protocol 2 for os.system("ls"): the classic malicious payload.
    private static readonly byte[] Malicious = [0x80, 2, .. "cos\nsystem\nX"u8, 2, 0, 0, 0, .. "ls"u8, 0x85, (byte)'R', (byte)'.'];

    [Fact]
    public void PickleCallingOsSystemIsRefusedNamingTheGlobal()
    {
        string legacy = PathOf("evil.pt");
        File.WriteAllBytes(legacy, Malicious);
        var e = Assert.Throws<WeightFileException>(() => TorchStateDict.Read(legacy));
        Assert.Contains(legacy, e.Message);
        Assert.Contains("'os.system'", e.Message);

        string zip = PathOf("evil_zip.pt");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        using (var s = archive.CreateEntry("archive/data.pkl").Open()) s.Write(Malicious);
        e = Assert.Throws<WeightFileException>(() => TorchStateDict.Read(zip));
        Assert.Contains("'os.system'", e.Message);
    }

    [Fact]
    public void NotAPickleIsRefused()
    {
        string text = PathOf("notes.pt");
        File.WriteAllText(text, "these are not weights\n");
        var e = Assert.Throws<WeightFileException>(() => TorchStateDict.Read(text));
        Assert.Contains("not a PyTorch weight file", e.Message);

        string empty = PathOf("empty.pt");
        File.WriteAllBytes(empty, []);
        Assert.Throws<WeightFileException>(() => TorchStateDict.Read(empty));

        string garbage = PathOf("garbage.pt");
        File.WriteAllBytes(garbage, [0x80, 2, 0xff, 0xfe, 0x01]);
        e = Assert.Throws<WeightFileException>(() => TorchStateDict.Read(garbage));
        Assert.Contains("opcode 0xff", e.Message);

        Assert.Throws<FileNotFoundException>(() => TorchStateDict.Read(PathOf("absent.pt")));
    }

    [Fact]
    public void WeightsOfAnotherNetworkListTheMismatchedKeys()
    {
        string other = PathOf("linear.pt");
        using (var linear = nn.Linear(1024, 400)) ModuleWeights.Save(linear, other);
        using var net = new InceptionI3d();
        var e = Assert.Throws<WeightFileException>(() => ModuleWeights.Load(net, other, "InceptionI3d"));
        Assert.Contains(other, e.Message);
        Assert.Contains("missing: Conv3d_1a_7x7.conv3d.weight", e.Message);
        Assert.Contains("2 unexpected: weight, bias", e.Message);
    }

    [Fact]
    public void MisshapedWeightsAreListed()
    {
        string path = PathOf("ten_classes.pt");
        using (var small = new InceptionI3d(10, 3)) ModuleWeights.Save(small, path);
        using var net = new InceptionI3d(400, 3);
        var e = Assert.Throws<WeightFileException>(() => ModuleWeights.Load(net, path, "InceptionI3d(num_classes=400)"));
        Assert.Contains("2 with another shape: logits.conv3d.weight (file [10, 1024, 1, 1, 1], network [400, 1024, 1, 1, 1])", e.Message);

        // The factory sizes the network from the file instead.
        using var loaded = ModuleWeights.LoadInceptionI3d(path);
        Assert.Equal(10, loaded.NumClasses);
    }

    [Fact]
    public void DataParallelPrefixIsStripped()
    {
        string path = PathOf("parallel.pt");
        using var small = new InceptionI3d(7, 2);
        TorchStateDict.Write(path, small.state_dict().Select(kv => KeyValuePair.Create("module." + kv.Key, kv.Value)));
        using var loaded = ModuleWeights.LoadInceptionI3d(path);
        Assert.Equal(7, loaded.NumClasses);
        Assert.Equal(2, loaded.InChannels);
        Assert.True(loaded.state_dict()["Mixed_5c.b2b.conv3d.weight"].equal(small.state_dict()["Mixed_5c.b2b.conv3d.weight"]).all().item<bool>());
    }

    [Fact]
    public void TruncatedZipIsRefused()
    {
        string full = PathOf("full.pt"), cut = PathOf("cut.pt");
        using (var net = new InceptionI3d(10, 2)) ModuleWeights.Save(net, full);
        var bytes = File.ReadAllBytes(full);
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<WeightFileException>(() => ModuleWeights.LoadInceptionI3d(cut));
        Assert.Contains(cut, e.Message);
    }

    [SkippableTheory]
    [InlineData(100)]        // inside the header pickles
    [InlineData(20_000)]     // inside the state_dict pickle
    [InlineData(30_000_000)] // inside the storage data
    public void TruncatedLegacyFileIsRefused(int length)
    {
        var bytes = File.ReadAllBytes(PythonFixtures.PathOf("rgb_legacy.pt"));
        string cut = PathOf("cut_legacy.pt");
        File.WriteAllBytes(cut, bytes[..length]);
        var e = Assert.Throws<WeightFileException>(() => ModuleWeights.LoadInceptionI3d(cut));
        Assert.Contains(cut, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [SkippableFact]
    public void GoogLeNetFileIsNotAnI3d()
    {
        Skip.IfNot(PythonFixtures.HasGoogLeNet, "python3-torchvision absent: no GoogLeNet fixture");
        var e = Assert.Throws<WeightFileException>(() => ModuleWeights.LoadInceptionI3d(PythonFixtures.PathOf("googlenet.pt")));
        Assert.Contains("missing: Conv3d_1a_7x7.conv3d.weight", e.Message);
        Assert.Contains("unexpected: conv1.conv.weight", e.Message);
    }

    [Fact]
    public void HalfAndIntegerTensorsRoundTrip()
    {
        string path = PathOf("mixed.pt");
        var tensors = new Dictionary<string, Tensor>
        {
            ["h"] = tensor(new float[] { 1.5f, -2.25f, 65504f }).to(ScalarType.Float16),
            ["b"] = tensor(new float[] { 3.140625f, -0.5f }).to(ScalarType.BFloat16),
            ["l"] = tensor(new long[] { 1L << 40, -7 }),
            ["d"] = tensor(new double[] { Math.PI }),
        };
        TorchStateDict.Write(path, tensors);
        var back = TorchStateDict.Read(path).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (k, v) in tensors)
        {
            Assert.Equal(v.dtype, back[k].dtype);
            Assert.True(v.equal(back[k]).all().item<bool>(), k);
        }
    }
}

public class RestrictedUnpicklerTests
{
    private static object? Load(byte[] pickle) => new RestrictedUnpickler(new MemoryStream(pickle), "test.pkl").Load();

    /// <summary>Pickle bytes from a string of chars 0-255 (\u00XX escapes: C#'s \x takes up to four hex digits).</summary>
    private static byte[] B(string s) => System.Text.Encoding.Latin1.GetBytes(s);

    [Fact]
    public void ReadsPython2OrderedDictItems()
    {
        // Python 2 (PyTorch 0.3 era), protocol 2: OrderedDict([['a', 1], ['b', 2]]) with byte-string keys.
        byte[] pickle = B("\u0080\u0002ccollections\nOrderedDict\nq\u0000]q\u0001(]q\u0002(U\u0001aK\u0001e]q\u0003(U\u0001bK\u0002ee\u0085q\u0004Rq\u0005.");
        var dict = Assert.IsType<PickleDict>(Load(pickle));
        Assert.Equal(["a", "b"], dict.Select(kv => kv.Key));
        Assert.Equal([1L, 2L], dict.Select(kv => kv.Value));
    }

    [Fact]
    public void RefusesObjectConstructionOpcodes()
    {
        // NEWOBJ (0x81) after a disallowed class: the GLOBAL is refused first.
        var e = Assert.Throws<WeightFileException>(() => Load(B("\u0080\u0002c__main__\nEvil\n)\u0081.")));
        Assert.Contains("'__main__.Evil'", e.Message);
        // INST ('i') carries its class inline: refused as an opcode.
        e = Assert.Throws<WeightFileException>(() => Load(B("(ios\nsystem\n.")));
        Assert.Contains("opcode 0x69", e.Message);
    }
}
