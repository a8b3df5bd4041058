namespace I3D.MLNet.Clips;

/// <summary>
/// Tells <see cref="ClipSamplingMode.Auto"/> samplers that the rows are being read to train a network: inside a
/// <see cref="Training"/> scope they follow the paper's training protocol (random start, crop and flip, seeded by the
/// epoch), elsewhere the test protocol. The I3D trainer opens the scope around its passes over the data, so one
/// pipeline (LoadVideo -> SampleClips -> trainer) trains and scores as the paper does and saves as one zip.
/// </summary>
public static class ClipSamplingScope
{
    private static readonly AsyncLocal<int?> CurrentEpoch = new();

    /// <summary>The training epoch of the current scope, or <c>null</c> outside one.</summary>
    public static int? Epoch => CurrentEpoch.Value;

    /// <summary>Opens a training scope for <paramref name="epoch"/> on this thread (and its async flow) until disposed.</summary>
    public static IDisposable Training(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        int? previous = CurrentEpoch.Value;
        CurrentEpoch.Value = epoch;
        return new Restore(previous);
    }

    private sealed class Restore(int? previous) : IDisposable
    {
        public void Dispose() => CurrentEpoch.Value = previous;
    }
}
