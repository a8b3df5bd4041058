using I3D.MLNet.Tests.Shared;
using I3D.MLNet.Torch.Experiments;
using Xunit;

namespace I3D.MLNet.Torch.Tests.Experiments;

/// <summary><see cref="ExperimentData"/> on the official split files in ../shared/data/labels: each split's training and
/// test videos as the datasets' papers count them (UCF-101: Soomro et al. 2012; HMDB-51: Kuehne et al. 2011).</summary>
public class ExperimentDataTests
{
    private static string Labels => Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, "..", "shared", "data", "labels"));

    [SkippableTheory]
    [InlineData(1, 9537, 3783)]
    [InlineData(2, 9586, 3734)]
    [InlineData(3, 9624, 3696)]
    public void Ucf101SplitsHaveTheirOfficialSizes(int split, int train, int test)
    {
        string classInd = Path.Combine(Labels, "ucf101", "classInd.txt");
        Skip.IfNot(File.Exists(classInd), $"{classInd} absent (../shared is not next to the repository)");
        var data = ExperimentData.FromUcf101(classInd, split, "/videos/UCF-101");
        Assert.Equal((train, test), (data.Train.Videos.Count, data.Test.Videos.Count));
        Assert.Equal(101, data.Train.Classes.Count);
        Assert.Equal(data.Train.Classes, data.Test.Classes);
        Assert.Empty(data.Train.Videos.Select(v => v.Path).Intersect(data.Test.Videos.Select(v => v.Path)));
        Assert.All(data.Test.Videos, v => Assert.StartsWith($"/videos/UCF-101/{v.Label}/", v.Path));
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Hmdb51SplitsHave70TrainingAnd30TestVideosAClass(int split)
    {
        string dir = Path.Combine(Labels, "hmdb51");
        Skip.IfNot(Directory.Exists(dir), $"{dir} absent (../shared is not next to the repository)");
        var data = ExperimentData.FromHmdb51(dir, split, "/videos/hmdb51");
        Assert.Equal(51, data.Train.Classes.Count);
        Assert.All(data.Train.Videos.GroupBy(v => v.Label), g => Assert.Equal(70, g.Count()));
        Assert.All(data.Test.Videos.GroupBy(v => v.Label), g => Assert.Equal(30, g.Count()));
        Assert.Equal((3570, 1530), (data.Train.Videos.Count, data.Test.Videos.Count));
        Assert.Empty(data.Train.Videos.Select(v => v.Path).Intersect(data.Test.Videos.Select(v => v.Path)));
    }

    [Fact]
    public void AnotherSplitNumberIsRefusedNamingTheDataset()
    {
        Assert.Contains("UCF-101 has splits 1, 2 and 3", Assert.Throws<ArgumentOutOfRangeException>(() => ExperimentData.FromUcf101("classInd.txt", 4, "/v")).Message);
        Assert.Contains("HMDB-51 has splits 1, 2 and 3", Assert.Throws<ArgumentOutOfRangeException>(() => ExperimentData.FromHmdb51("/nowhere", 0, "/v")).Message);
    }
}
