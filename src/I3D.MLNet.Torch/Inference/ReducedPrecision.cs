using I3D.MLNet.Scoring;
using static TorchSharp.torch;

namespace I3D.MLNet.Torch.Inference;

/// <summary>The tensor type of each <see cref="ScoringPrecision"/>: one rule for every TorchSharp scorer.</summary>
internal static class ReducedPrecision
{
    public static ScalarType DType(ScoringPrecision precision) => precision switch
    {
        ScoringPrecision.Float32 => ScalarType.Float32,
        ScoringPrecision.BFloat16 => ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "not a scoring precision"),
    };
}
