namespace I3D.MLNet.Scoring;

/// <summary>
/// The arithmetic a network scores with. A setting of the machine, like the device: taken when the scorer is made or
/// loaded, never saved in a model zip (the weights are always kept and saved in float32).
/// </summary>
public enum ScoringPrecision
{
    /// <summary>32-bit floats throughout: the reference's arithmetic (the default).</summary>
    Float32,

    /// <summary>
    /// bfloat16 weights and activations (8 bits of mantissa), float32 logits: about twice as fast on CPUs with AVX-512
    /// BF16 or AMX and on GPUs, at a relative error of the logits of about 1e-2 (benchmarks/RESULTS.md has the figures
    /// measured: the top class equal to float32's on the clips tested). Only where asked.
    /// </summary>
    BFloat16,
}

/// <summary>The names of <see cref="ScoringPrecision"/> on the command line and in messages.</summary>
public static class ScoringPrecisions
{
    /// <summary><c>float32</c> or <c>bfloat16</c>.</summary>
    public static string Name(this ScoringPrecision precision) => precision switch
    {
        ScoringPrecision.Float32 => "float32",
        ScoringPrecision.BFloat16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "not a scoring precision"),
    };
}
