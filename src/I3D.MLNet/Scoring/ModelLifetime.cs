namespace I3D.MLNet.Scoring;

/// <summary>
/// The native resources of a fitted classifier (TorchSharp modules, ONNX Runtime sessions) between scoring and
/// disposal: scoring from any number of threads at once, disposal waiting for scoring in flight, and scoring after
/// disposal an <see cref="ObjectDisposedException"/> that says why, not a native crash. ML.NET's PredictionEngine
/// disposes the model it was made from unless it was made with <c>PredictionEngineOptions.OwnsTransformer = false</c>,
/// so a model shared by several engines is disposed by the first engine that goes.
/// </summary>
internal sealed class ModelLifetime(string what)
{
    private readonly ReaderWriterLockSlim _gate = new(LockRecursionPolicy.SupportsRecursion);
    private bool _disposed;

    /// <summary>Runs <paramref name="score"/> unless the model was disposed (then a one-line ObjectDisposedException).</summary>
    public T Use<T>(Func<T> score)
    {
        _gate.EnterReadLock();
        try
        {
            if (_disposed)
                throw new ObjectDisposedException(what, $"{what} was disposed and cannot score. ML.NET's PredictionEngine disposes the model it was created from; "
                    + "engines that share one model are created with new PredictionEngineOptions { OwnsTransformer = false }");
            return score();
        }
        finally { _gate.ExitReadLock(); }
    }

    /// <summary>Frees the resources once, after scoring in flight has finished.</summary>
    public void Dispose(Action free)
    {
        _gate.EnterWriteLock();
        try
        {
            if (_disposed) return;
            _disposed = true;
            free();
        }
        finally { _gate.ExitWriteLock(); }
    }
}
