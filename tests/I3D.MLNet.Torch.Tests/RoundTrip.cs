namespace I3D.MLNet.Torch.Tests;

/// <summary>What "a reloaded model scores the same" means for libtorch.</summary>
internal static class RoundTrip
{
    /// <summary>
    /// libtorch's thread count is one setting for the whole process and tests running beside this one may change it
    /// (the trainer's Threads option), which reorders convolution sums: the same weights then differ in the last bit
    /// (one CI run: 0.176095665 vs 0.176095679). 1e-6 allows that and nothing more: a weight lost or altered in
    /// the zip moves a score by orders of magnitude more.
    /// </summary>
    public static void ScoresEqual(IReadOnlyList<float[]> expected, IReadOnlyList<float[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            for (int c = 0; c < expected[i].Length; c++) Assert.Equal(expected[i][c], actual[i][c], 1e-6f);
        }
    }
}
