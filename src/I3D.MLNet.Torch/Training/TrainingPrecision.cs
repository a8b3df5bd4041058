namespace I3D.MLNet.Torch.Training;

/// <summary>The arithmetic of a training step (<see cref="I3DTrainerOptions.Precision"/>).</summary>
public enum TrainingPrecision
{
    /// <summary>float32 throughout, as the reference trains.</summary>
    Float32,

    /// <summary>
    /// Mixed precision: every convolution computes in bfloat16 (its float32 input and weights rounded at the call;
    /// activations stay bfloat16 between layers), while the weights the optimizer updates and the zip saves, BatchNorm's
    /// parameters and statistics, the loss and the SGD step stay float32. About twice the convolutions' speed on CPUs with
    /// AVX-512 BF16 or AMX and on GPUs; bfloat16 needs no loss scaling (float32's exponent range). Validation, the
    /// precise-BatchNorm pass and scoring run in float32.
    /// </summary>
    BFloat16,
}
