using System.Buffers.Binary;
using System.Diagnostics;
using I3D.MLNet.Testing;
using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Models;
using I3D.MLNet.Torch.Weights;
using I3D.MLNet.Torch.Weights.TensorFlow;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Tests.Weights;

/// <summary>DeepMind's kinetics-i3d TensorFlow checkpoints: the index table, the data file, the name mapping, damage.</summary>
public sealed class TensorFlowCheckpointTests(ITestOutputHelper log) : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-tf").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private static readonly string[] Checkpoints = ["rgb_imagenet", "flow_imagenet", "rgb_scratch", "flow_scratch", "rgb_scratch_kin600"];

    private static string FixtureIndex(string name) =>
        Path.Combine(SharedData.Require(Path.Combine("fixtures", "kinetics-i3d-checkpoint-index")), $"{name}.model.ckpt.index");

    [Fact]
    public void Crc32CIsCastagnoliAndTheMaskRoundTrips()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32])); // RFC 3720 B.4: 32 bytes of zeros
        foreach (uint c in new[] { 0u, 1u, 0xE3069283u, uint.MaxValue }) Assert.Equal(c, Crc32C.Unmask(Crc32C.Mask(c)));
        Assert.NotEqual(0xE3069283u, Crc32C.Mask(0xE3069283u));
    }

    [SkippableFact]
    public void TheFivePublishedIndexesParse()
    {
        foreach (string name in Checkpoints)
        {
            string path = FixtureIndex(name);
            var clock = Stopwatch.StartNew();
            var bundle = TensorBundle.Open(path);
            clock.Stop();
            var entries = bundle.Entries;
            bool kin600 = name.EndsWith("kin600", StringComparison.Ordinal);
            string scope = kin600 ? "" : name.StartsWith("rgb", StringComparison.Ordinal) ? "RGB/inception_i3d/" : "Flow/inception_i3d/";
            int channels = name.StartsWith("rgb", StringComparison.Ordinal) ? 3 : 2, classes = kin600 ? 600 : 400;
            log.WriteLine($"{name}: {entries.Count} variables ({entries.Count(e => e.Name.EndsWith("/Momentum", StringComparison.Ordinal))} Momentum slots), {bundle.Shards} shard, parsed in {clock.Elapsed.TotalMilliseconds:0.0} ms");

            Assert.Equal(1, bundle.Shards);
            Assert.Equal(kin600 ? 346 : 230, entries.Count);
            Assert.All(entries, e => Assert.Equal(TensorBundle.DTypeFloat, e.DType));
            Assert.All(entries, e => Assert.StartsWith(scope, e.Name));
            var weights = entries.Where(e => !KineticsI3dNames.IsBookkeeping(e.Name)).ToList();
            Assert.Equal(230, weights.Count);
            Assert.Equal(kin600 ? 116 : 0, entries.Count - weights.Count);
            Assert.All(weights, e => Assert.NotNull(KineticsI3dNames.ToTorch(e.Name)));
            Assert.DoesNotContain(entries, e => e.Name.Contains("gamma", StringComparison.Ordinal));
            var byName = entries.ToDictionary(e => e.Name);
            Assert.Equal([7, 7, 7, channels, 64], byName[scope + "Conv3d_1a_7x7/conv_3d/w"].Shape);
            Assert.Equal([1, 1, 1, 1024, classes], byName[scope + "Logits/Conv3d_0c_1x1/conv_3d/w"].Shape);
            Assert.Equal([classes], byName[scope + "Logits/Conv3d_0c_1x1/conv_3d/b"].Shape);
            Assert.Equal(64, byName[scope + "Conv3d_1a_7x7/batch_norm/moving_variance"].Shape.Aggregate(1L, (a, b) => a * b));
            Assert.Equal([3, 3, 3, 32, 128], byName[scope + "Mixed_5b/Branch_2/Conv3d_0a_3x3/conv_3d/w"].Shape);
            Assert.False(byName.ContainsKey(scope + "Mixed_5b/Branch_2/Conv3d_0b_3x3/conv_3d/w"));
            Assert.True(byName.ContainsKey(scope + "Mixed_5c/Branch_2/Conv3d_0b_3x3/conv_3d/w"));

            // The tensors lie back to back in the data file, in some order, from byte 0.
            long end = 0;
            foreach (var e in entries.OrderBy(e => e.Offset))
            {
                Assert.Equal(end, e.Offset);
                end += e.Size;
            }
            long parameters = weights.Where(e => e.Name.EndsWith("/w", StringComparison.Ordinal) || e.Name.EndsWith("/b", StringComparison.Ordinal) || e.Name.EndsWith("/beta", StringComparison.Ordinal)).Sum(e => e.Size) / 4;
            log.WriteLine($"  data file {end} bytes; {parameters} trainable values");
        }
    }

    /// <summary>The value the known-values data file holds at element <paramref name="i"/> of variable <paramref name="k"/>.</summary>
    private static float Known(int k, long i) => (float)((k * 7919L + i * 31L) % 10007) / 10007f;

    [SkippableTheory]
    [InlineData("rgb_imagenet", 3, 400)]
    [InlineData("flow_scratch", 2, 400)]
    [InlineData("rgb_scratch_kin600", 3, 600)]
    public void KnownValuesAtThePublishedOffsetsLoadIntoInceptionI3d(string name, int channels, int classes)
    {
        var real = TensorBundle.Open(FixtureIndex(name)).Entries;
        string prefix = Path.Combine(dir, "model.ckpt");
        // A data file of known values at the published offsets; the index keeps names, shapes and offsets, with the CRCs of these bytes.
        var rewritten = new List<BundleEntry>();
        using (var data = File.Create(prefix + ".data-00000-of-00001"))
            for (int k = 0; k < real.Count; k++)
            {
                var e = real[k];
                var bytes = new byte[e.Size];
                for (long i = 0; i < e.Size / 4; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(4 * i)), Known(k, i));
                data.Position = e.Offset;
                data.Write(bytes);
                rewritten.Add(e with { MaskedCrc32C = Crc32C.Mask(Crc32C.Compute(bytes)) });
            }
        TfCheckpointWriter.WriteIndex(prefix, rewritten);

        using var net = ModuleWeights.LoadInceptionI3d(prefix);
        Assert.Equal(channels, net.InChannels);
        Assert.Equal(classes, net.NumClasses);
        var state = net.state_dict();
        var random = new Random(1);
        int checkedValues = 0;
        for (int k = 0; k < real.Count; k++)
        {
            var e = real[k];
            if (KineticsI3dNames.ToTorch(e.Name) is not { } mapped) continue;
            var target = state[mapped.Key];
            for (int n = 0; n < 50; n++)
            {
                long i = random.NextInt64(e.Size / 4);
                float actual;
                if (e.Shape.Length == 5 && mapped.Key.EndsWith("conv3d.weight", StringComparison.Ordinal))
                {
                    // TF index (t, h, w, in, out), C order -> ours [out, in, t, h, w].
                    var s = e.Shape;
                    long rest = i, o = rest % s[4]; rest /= s[4];
                    long c = rest % s[3]; rest /= s[3];
                    long w = rest % s[2]; rest /= s[2];
                    long h = rest % s[1]; long t = rest / s[1];
                    actual = target[o, c, t, h, w].item<float>();
                }
                else actual = target[i].item<float>();
                Assert.Equal(Known(k, i), actual);
                checkedValues++;
            }
            if (mapped.Key.EndsWith(".bn.bias", StringComparison.Ordinal))
            {
                using var gamma = state[mapped.Key[..^4] + "weight"];
                Assert.Equal(1f, gamma.min().item<float>());
                Assert.Equal(1f, gamma.max().item<float>());
            }
        }
        log.WriteLine($"{name}: {checkedValues} values checked at their mapped positions");
    }

    [Fact]
    public void ACheckpointOfAModuleLoadsLikeItsPtFile()
    {
        using var original = new InceptionI3d(7, 2);
        using (no_grad())
            foreach (var (key, buffer) in original.named_buffers())
                if (key.EndsWith("running_var", StringComparison.Ordinal)) buffer.uniform_(0.5, 2);
                else if (key.EndsWith("running_mean", StringComparison.Ordinal)) buffer.normal_();
        string pt = Path.Combine(dir, "flow.pt"), folder = Path.Combine(dir, "flow_imagenet"), prefix = Path.Combine(folder, "model.ckpt");
        ModuleWeights.Save(original, pt);
        Directory.CreateDirectory(folder);
        TfCheckpointWriter.WriteModule(original, prefix, "Flow/inception_i3d/", ["Conv3d_1a_7x7/conv_3d/w/Momentum", "global_step"]);

        var fromPt = WeightFiles.Read(pt).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (string path in new[] { prefix, prefix + ".index", folder, prefix + ".data-00000-of-00001" })
        {
            var fromTf = WeightFiles.Read(path);
            Assert.Equal(fromPt.Keys.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).Order(), fromTf.Select(kv => kv.Key).Order());
            foreach (var (key, value) in fromTf)
            {
                Assert.Equal(fromPt[key].shape, value.shape);
                Assert.True(fromPt[key].eq(value).all().item<bool>(), key);
                value.Dispose();
            }
        }
        using var loaded = ModuleWeights.LoadInceptionI3d(prefix);
        Assert.Equal((2, 7), (loaded.InChannels, loaded.NumClasses));
        using var clip = empty([1, 2, 9, 64, 64]).uniform_(-1, 1);
        original.eval();
        using var a = original.forward(clip);
        using var b = loaded.forward(clip);
        Assert.True(a.eq(b).all().item<bool>());
        foreach (var t in fromPt.Values) t.Dispose();
    }

    private List<BundleEntry> SmallCheckpoint(out string prefix)
    {
        using var net = new InceptionI3d(5, 3);
        prefix = Path.Combine(dir, "model.ckpt");
        return TfCheckpointWriter.WriteModule(net, prefix);
    }

    private static string OneLineError(Action read)
    {
        var e = Assert.Throws<WeightFileException>(read);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void AFlippedDataByteFailsTheChecksumNamingTheVariable()
    {
        var entries = SmallCheckpoint(out string prefix);
        var victim = entries.First(e => e.Name.EndsWith("Mixed_4c/Branch_1/Conv3d_0b_3x3/conv_3d/w", StringComparison.Ordinal));
        string data = prefix + ".data-00000-of-00001";
        var bytes = File.ReadAllBytes(data);
        bytes[victim.Offset + victim.Size / 2] ^= 0x10;
        File.WriteAllBytes(data, bytes);
        string message = OneLineError(() => ModuleWeights.LoadInceptionI3d(prefix));
        Assert.Contains(data, message);
        Assert.Contains("'RGB/inception_i3d/Mixed_4c/Branch_1/Conv3d_0b_3x3/conv_3d/w'", message);
        Assert.Contains("CRC-32C", message);
    }

    [Fact]
    public void DamagedIndexesAreRefusedNamingTheFile()
    {
        SmallCheckpoint(out string prefix);
        string index = prefix + ".index";
        var good = File.ReadAllBytes(index);

        void Expect(byte[] bytes, string fragment)
        {
            File.WriteAllBytes(index, bytes);
            string message = OneLineError(() => WeightFiles.Read(prefix));
            Assert.Contains(index, message);
            Assert.Contains(fragment, message);
        }

        var flipped = (byte[])good.Clone();
        flipped[100] ^= 0x01; // inside the first data block
        Expect(flipped, "data block at byte 0 fails its CRC-32C check");
        Expect(good[..^1], "no table magic number");
        Expect(good[..20], "shorter than a table footer");
        var badFooter = (byte[])good.Clone();
        badFooter[^48] = 0xff; badFooter[^47] = 0xff; badFooter[^46] = 0xff; badFooter[^45] = 0x7f; // metaindex offset ~2^28
        Expect(badFooter, "reaches past the end of the file");
        var hugeIndex = (byte[])good.Clone();
        int at = good.Length - 48;
        while (good[at] >= 0x80) at++; // skip the metaindex offset
        at++;
        while (good[at] >= 0x80) at++; // and its size: the index handle follows
        at++;
        hugeIndex[at] = 0xff; hugeIndex[at + 1] = 0xff; hugeIndex[at + 2] = 0xff; hugeIndex[at + 3] = 0xff; hugeIndex[at + 4] = 0xff;
        hugeIndex[at + 5] = 0xff; hugeIndex[at + 6] = 0xff; hugeIndex[at + 7] = 0xff; hugeIndex[at + 8] = 0x01; // offset ~2^63
        Expect(hugeIndex, "points past any index file");
    }

    [Fact]
    public void AbsurdSizesAndCompressionAreRefusedBeforeReading()
    {
        var entries = SmallCheckpoint(out string prefix);
        string index = prefix + ".index";
        var first = entries[0];

        // A variable claiming a terabyte (consistent with its shape): refused against the data file's length.
        TfCheckpointWriter.WriteIndex(prefix, [first with { Shape = [1 << 20, 1 << 18], Size = 4L << 38 }, .. entries.Skip(1)]);
        string message = OneLineError(() => WeightFiles.Read(prefix));
        Assert.Contains(prefix + ".data-00000-of-00001", message);
        Assert.Contains($"'{first.Name}'", message);
        Assert.Contains("reaches past the end of the file", message);

        // A size that does not match the shape.
        TfCheckpointWriter.WriteIndex(prefix, [first with { Size = first.Size + 4 }, .. entries.Skip(1)]);
        message = OneLineError(() => WeightFiles.Read(prefix));
        Assert.Contains(index, message);
        Assert.Contains($"'{first.Name}'", message);

        // Shards and dimensions out of range.
        TfCheckpointWriter.WriteIndex(prefix, entries, shards: 0);
        Assert.Contains("0 data shards", OneLineError(() => WeightFiles.Read(prefix)));
        TfCheckpointWriter.WriteIndex(prefix, [first with { ShardId = 3 }, .. entries.Skip(1)]);
        Assert.Contains("shard 3 of 1", OneLineError(() => WeightFiles.Read(prefix)));

        // Snappy blocks: said, not guessed at.
        TfCheckpointWriter.WriteIndex(prefix, entries, blockType: 1);
        message = OneLineError(() => WeightFiles.Read(prefix));
        Assert.Contains(index, message);
        Assert.Contains("Snappy-compressed", message);

        // The data file cut short.
        TfCheckpointWriter.WriteIndex(prefix, entries);
        string data = prefix + ".data-00000-of-00001";
        var bytes = File.ReadAllBytes(data);
        File.WriteAllBytes(data, bytes[..(bytes.Length - 100)]);
        Assert.Contains("truncated", OneLineError(() => WeightFiles.Read(prefix)));
        File.Delete(data);
        Assert.Contains(data, Assert.Throws<FileNotFoundException>(() => WeightFiles.Read(prefix)).Message);
    }

    [Fact]
    public void VariablesOfAnotherNetworkOrTwoStreamsAreNamed()
    {
        string prefix = Path.Combine(dir, "other.ckpt");
        TfCheckpointWriter.WriteData(prefix, [("InceptionV1/Conv2d_1a_7x7/weights", zeros([2])), ("global_step", zeros([1]))]);
        string message = OneLineError(() => WeightFiles.Read(prefix));
        Assert.Contains("InceptionV1/Conv2d_1a_7x7/weights", message);
        Assert.Contains("not a kinetics-i3d InceptionI3d checkpoint", message);

        TfCheckpointWriter.WriteData(prefix, [("RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w", zeros([1, 1, 1, 3, 64])), ("Flow/inception_i3d/Conv3d_1a_7x7/conv_3d/w", zeros([1, 1, 1, 2, 64]))]);
        Assert.Contains("2 networks (Flow/inception_i3d, RGB/inception_i3d)", OneLineError(() => WeightFiles.Read(prefix)));
    }

    [Fact]
    public void TheTrainerStartsFromACheckpointPrefix()
    {
        SmallCheckpoint(out string prefix);
        var options = new I3D.MLNet.Torch.Training.I3DTrainerOptions { Initialization = I3D.MLNet.Torch.Training.I3DInitialization.Checkpoint, RgbWeights = prefix, RgbColumnName = "RgbClip", FlowColumnName = null };
        using var stream = I3D.MLNet.Torch.Training.StreamNetwork.Create(I3D.MLNet.Scoring.VideoStream.Rgb, "RgbClip", 3, 3, options);
        using var expected = ModuleWeights.LoadInceptionI3d(prefix);
        var mine = stream.Module.state_dict();
        foreach (var (key, value) in expected.state_dict())
            if (!key.StartsWith("logits.", StringComparison.Ordinal) && !key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                Assert.True(mine[key].eq(value).all().item<bool>(), key);
        Assert.Equal(3, mine["logits.conv3d.weight"].shape[0]);
    }
}
