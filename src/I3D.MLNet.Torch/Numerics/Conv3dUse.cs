namespace I3D.MLNet.Torch.Numerics;

/// <summary>What a 3-D convolution call needs right, judged by its own verdict (<see cref="Conv3dGuard"/>).</summary>
internal enum Conv3dUse
{
    /// <summary>The forward result alone (no gradient recorded: scoring).</summary>
    Score,

    /// <summary>The forward result and the gradients of the input, the weight and the bias (a layer inside a training network).</summary>
    Train,

    /// <summary>The forward result and the weight and bias gradients; the input needs none (a network's first layer in training).</summary>
    TrainWeights,
}

internal static class Conv3dUses
{
    /// <summary>The word in the probe cache's keys: <c>score</c>, <c>train</c>, <c>train-weights</c>.</summary>
    public static string Word(this Conv3dUse use) => use switch
    {
        Conv3dUse.Score => "score",
        Conv3dUse.Train => "train",
        Conv3dUse.TrainWeights => "train-weights",
        _ => throw new ArgumentOutOfRangeException(nameof(use)),
    };
}
