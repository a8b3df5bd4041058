namespace I3D.MLNet.Torch.Tests;

/// <summary>What "a reloaded model scores the same" means for libtorch.</summary>
internal static class RoundTrip
{
    /// <summary>
    /// The same weights give the same scores only up to float32 rounding: libtorch's thread count is one setting for
    /// the process that tests beside this one change (the trainer's Threads option), and another count reorders the
    /// convolutions' sums (measured here: 0 difference at a fixed count, 4.8e-8 in the logits after a change; one CI
    /// run: 0.176095665 vs 0.176095679 in a score). 1e-5 allows that; a weight lost or altered in the zip moves a
    /// score by orders of magnitude more.
    /// </summary>
    public static void ScoresEqual(IReadOnlyList<float[]> expected, IReadOnlyList<float[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            for (int c = 0; c < expected[i].Length; c++) Assert.Equal(expected[i][c], actual[i][c], 1e-5f);
        }
    }
}
