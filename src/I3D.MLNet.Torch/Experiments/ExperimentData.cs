using I3D.MLNet.Datasets;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>
/// The labelled videos of an experiment, training and test: a folder with <c>train/&lt;class&gt;/</c> and
/// <c>test/&lt;class&gt;/</c> (what <c>i3d synth</c> writes), or the official splits of UCF-101 and HMDB-51 (the
/// paper's section 4 reports split 1 of each).
/// </summary>
public static class ExperimentData
{
    /// <summary>The training and test videos under <paramref name="dir"/>; a folder without both is one line naming it.</summary>
    /// <param name="dir">A folder with <c>train/&lt;class&gt;/</c> and <c>test/&lt;class&gt;/</c> folders of videos.</param>
    public static (VideoDataset Train, VideoDataset Test) Load(string dir)
    {
        if (!Directory.Exists(Path.Combine(dir, "train")) || !Directory.Exists(Path.Combine(dir, "test")))
            throw new DirectoryNotFoundException($"{dir}: needs train/<class>/ and test/<class>/ folders of videos (i3d synth --out {dir} writes them)");
        return (VideoDataset.FromFolder(Path.Combine(dir, "train")), VideoDataset.FromFolder(Path.Combine(dir, "test")));
    }

    /// <summary>UCF-101 split <paramref name="split"/>: <c>trainlist0N.txt</c> and <c>testlist0N.txt</c> beside <paramref name="classIndFile"/>.</summary>
    /// <param name="classIndFile">UCF-101's <c>classInd.txt</c>.</param>
    /// <param name="split">1, 2 or 3.</param>
    /// <param name="videoRoot">The folder of the class folders of videos.</param>
    public static (VideoDataset Train, VideoDataset Test) FromUcf101(string classIndFile, int split, string videoRoot)
    {
        if (split is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(split), split, "UCF-101 has splits 1, 2 and 3");
        string lists = Path.GetDirectoryName(Path.GetFullPath(classIndFile))!;
        return (VideoDataset.FromUcf101(classIndFile, Path.Combine(lists, $"trainlist0{split}.txt"), videoRoot),
            VideoDataset.FromUcf101(classIndFile, Path.Combine(lists, $"testlist0{split}.txt"), videoRoot));
    }

    /// <summary>HMDB-51 split <paramref name="split"/>: the videos marked 1 (training) and 2 (test) in the <c>&lt;class&gt;_test_splitN.txt</c> files.</summary>
    /// <param name="splitDirectory">The folder of HMDB-51's split files.</param>
    /// <param name="split">1, 2 or 3.</param>
    /// <param name="videoRoot">The folder of the class folders of videos.</param>
    public static (VideoDataset Train, VideoDataset Test) FromHmdb51(string splitDirectory, int split, string videoRoot)
        => (VideoDataset.FromHmdb51(splitDirectory, split, train: true, videoRoot), VideoDataset.FromHmdb51(splitDirectory, split, train: false, videoRoot));

    /// <summary>The first <paramref name="perClass"/> videos of each class (in the folder's name order), the classes unchanged.</summary>
    internal static VideoDataset FirstPerClass(VideoDataset data, int perClass)
    {
        if (perClass < 1) throw new ArgumentException($"{perClass} training videos per class: at least one is needed");
        return data with { Videos = [.. data.Videos.GroupBy(v => v.Label).SelectMany(g => g.Take(perClass))] };
    }
}
