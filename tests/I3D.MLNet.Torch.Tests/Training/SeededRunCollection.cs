namespace I3D.MLNet.Torch.Tests.Training;

/// <summary>
/// Tests whose assertions need the trainer's seeded run to be that run: they run alone, after the others. Dropout and a
/// new layer's initial weights draw from libtorch's one global generator, which every test running beside draws from
/// too, so beside others the same seed gives another run (seen as a Fixed-mode classifier that did not move in
/// TransferStartTests, and 9 instead of 12 right of 28 in FeatureBenchmarkTests).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SeededRunCollection
{
    public const string Name = "seeded run";
}
