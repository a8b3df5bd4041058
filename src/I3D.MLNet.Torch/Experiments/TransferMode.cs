namespace I3D.MLNet.Torch.Experiments;

/// <summary>The three columns of the paper's Table 4 (section 4): how a network meets the small target dataset.</summary>
public enum TransferMode
{
    /// <summary>Trained on the target only (from scratch here: no ImageNet start).</summary>
    Original,

    /// <summary>Pre-trained on the source; only the last layer (the classifier) trained on the target, the rest a fixed feature extractor.</summary>
    Fixed,

    /// <summary>Pre-trained on the source, then every layer fine-tuned on the target.</summary>
    FullFineTuning,
}

/// <summary>The transfer modes' names and labels.</summary>
public static class TransferModes
{
    /// <summary>Table 4's columns in order.</summary>
    public static IReadOnlyList<TransferMode> All { get; } = [TransferMode.Original, TransferMode.Fixed, TransferMode.FullFineTuning];

    /// <summary>The name in JSON and in the report's file names: <c>original</c>, <c>fixed</c>, <c>full-ft</c>.</summary>
    public static string Name(this TransferMode mode) => mode switch
    {
        TransferMode.Original => "original",
        TransferMode.Fixed => "fixed",
        _ => "full-ft",
    };

    /// <summary>Table 4's column header: Original, Fixed, Full-FT.</summary>
    public static string Label(this TransferMode mode) => mode switch
    {
        TransferMode.Original => "Original",
        TransferMode.Fixed => "Fixed",
        _ => "Full-FT",
    };
}
