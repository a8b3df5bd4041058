using System.Security.Cryptography;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Torch.Weights;
using I3D.MLNet.Torch.Weights.TensorFlow;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>
/// Where a transfer's pre-trained weights come from (section 4, Table 4: the paper pre-trains on Kinetics): a folder
/// of labelled videos (<c>train/&lt;class&gt;/</c>, <c>test/&lt;class&gt;/</c>) each architecture is first trained on,
/// or InceptionI3d weights files, one per stream (a pytorch-i3d state_dict such as <c>rgb_imagenet.pt</c>, a
/// kinetics-i3d TensorFlow checkpoint, or a file <see cref="I3DPredictionTransformer.SaveStreamWeights"/> wrote).
/// </summary>
public sealed class TransferSource
{
    private TransferSource(string? folder, IReadOnlyDictionary<VideoStream, string> weights, string key)
    {
        Folder = folder;
        Weights = weights;
        Key = key;
    }

    /// <summary>The folder of source videos; null for weights files.</summary>
    public string? Folder { get; }

    /// <summary>The weights file of each stream (empty for a folder).</summary>
    public IReadOnlyDictionary<VideoStream, string> Weights { get; }

    /// <summary>What the weights are (files: their names, sizes and contents), for the cells' keys; empty for a folder (its videos are in its cells' keys).</summary>
    internal string Key { get; }

    /// <summary>
    /// A folder of videos (one path that is a folder with <c>train/</c>, or one that is no TensorFlow checkpoint folder)
    /// or one weights file per stream. A path that does not exist, a file that is no weights file, weights that are not
    /// InceptionI3d's and two files of one stream are one-line errors naming the file.
    /// </summary>
    /// <param name="paths">The folder, or the weights files.</param>
    public static TransferSource FromPaths(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0) throw new ArgumentException("a transfer needs a source: a folder of videos or weights files");
        foreach (var path in paths)
            if (!File.Exists(path) && !Directory.Exists(path) && TensorBundle.Locate(path) is null)
                throw new FileNotFoundException($"{path}: no such folder or weights file", path);
        if (paths.Count == 1 && Directory.Exists(paths[0]) && (Directory.Exists(Path.Combine(paths[0], "train")) || Directory.GetFiles(paths[0], "*.index").Length == 0))
        {
            ExperimentData.Load(paths[0]); // a folder without train/ and test/ is one line now, not after the first architecture
            return new TransferSource(paths[0], new Dictionary<VideoStream, string>(), "");
        }
        var weights = new Dictionary<VideoStream, string>();
        var key = new List<string>();
        foreach (var path in paths)
        {
            var stream = StreamOf(path);
            if (weights.TryGetValue(stream, out var other)) throw new ArgumentException($"{path}: {other} is {stream.Label()} weights too (give one file per stream)");
            weights[stream] = path;
            key.Add($"{stream.Name()}:{Path.GetFileName(path)}:{Digest(path)}");
        }
        return new TransferSource(null, weights, string.Join("|", key));
    }

    /// <summary>The streams a transfer of <paramref name="backbone"/> trains: the architecture's from a folder, those with a file from weights files.</summary>
    internal IReadOnlyList<VideoStream> Streams(VideoBackbone backbone) => Folder is null ? [.. VideoStreams.All.Where(Weights.ContainsKey)] : backbone.Streams;

    /// <summary>Weights files are InceptionI3d's: any other architecture is pre-trained from a folder of videos (one line).</summary>
    internal void Check(VideoBackbone backbone)
    {
        if (Folder is null && backbone != VideoBackbones.InceptionI3d)
            throw new ArgumentException($"{string.Join(", ", Weights.Values)}: weights files start InceptionI3d (pytorch-i3d / kinetics-i3d checkpoints); {backbone.Name} is pre-trained from a source folder of videos (train/<class>/, test/<class>/)");
    }

    /// <inheritdoc/>
    public override string ToString() => Folder ?? string.Join(", ", Weights.Select(w => $"{w.Value} ({w.Key.Label()})"));

    /// <summary>The stream of an InceptionI3d weights file, by its first kernel's input channels (3 RGB, 2 flow).</summary>
    private static VideoStream StreamOf(string path)
    {
        var weights = WeightFiles.Read(path);
        try
        {
            int channels = ModuleWeights.InceptionI3dInputChannels(weights)
                ?? throw new InvalidDataException($"{path}: not InceptionI3d weights (no Conv3d_1a_7x7.conv3d.weight); a source file is a pytorch-i3d state_dict or a kinetics-i3d checkpoint");
            return channels switch
            {
                3 => VideoStream.Rgb,
                2 => VideoStream.Flow,
                _ => throw new InvalidDataException($"{path}: InceptionI3d weights for {channels}-channel clips, neither RGB (3) nor flow (2)"),
            };
        }
        finally { foreach (var kv in weights) kv.Value.Dispose(); }
    }

    /// <summary>The file's SHA-256 (a TensorFlow checkpoint's index, which holds every tensor's checksum).</summary>
    private static string Digest(string path)
    {
        using var file = File.OpenRead(TensorBundle.Locate(path) ?? path);
        return Convert.ToHexString(SHA256.HashData(file))[..16];
    }
}
