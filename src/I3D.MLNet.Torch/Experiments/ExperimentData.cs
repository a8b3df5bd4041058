using I3D.MLNet.Datasets;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>The labelled videos of an experiment: a folder with <c>train/&lt;class&gt;/</c> and <c>test/&lt;class&gt;/</c> (what <c>i3d synth</c> writes).</summary>
internal static class ExperimentData
{
    /// <summary>The training and test videos under <paramref name="dir"/>; a folder without both is one line naming it.</summary>
    public static (VideoDataset Train, VideoDataset Test) Load(string dir)
    {
        if (!Directory.Exists(Path.Combine(dir, "train")) || !Directory.Exists(Path.Combine(dir, "test")))
            throw new DirectoryNotFoundException($"{dir}: needs train/<class>/ and test/<class>/ folders of videos (i3d synth --out {dir} writes them)");
        return (VideoDataset.FromFolder(Path.Combine(dir, "train")), VideoDataset.FromFolder(Path.Combine(dir, "test")));
    }

    /// <summary>The first <paramref name="perClass"/> videos of each class (in the folder's name order), the classes unchanged.</summary>
    public static VideoDataset FirstPerClass(VideoDataset data, int perClass)
    {
        if (perClass < 1) throw new ArgumentException($"{perClass} training videos per class: at least one is needed");
        return data with { Videos = [.. data.Videos.GroupBy(v => v.Label).SelectMany(g => g.Take(perClass))] };
    }
}
