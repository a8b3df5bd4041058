namespace I3D.MLNet.Torch.Numerics;

/// <summary>The end of a scope that set a thread's or the process's setting: disposing it puts the previous value back
/// (<see cref="MixedPrecision.Use"/>, <see cref="Conv3dGuard.Record"/>, <see cref="Conv3dGuard.CountMultiplyAdds"/>).</summary>
internal sealed class Restore(Action restore) : IDisposable
{
    public void Dispose() => restore();
}
