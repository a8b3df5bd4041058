using I3D.MLNet.Torch.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace I3D.MLNet.Torch;

/// <summary><c>mlContext.MulticlassClassification.Trainers.I3D(options)</c>.</summary>
public static class TorchCatalog
{
    /// <summary>Trains or fine-tunes two-stream I3D on clip columns (from SampleClips) and a key label.</summary>
    public static I3DTrainer I3D(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, I3DTrainerOptions? options = null)
        => new(CatalogUtils.GetEnvironment(catalog), options ?? new I3DTrainerOptions());
}
