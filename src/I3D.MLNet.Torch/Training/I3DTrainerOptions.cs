using System.Text.Json.Serialization;
using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;

namespace I3D.MLNet.Torch.Training;

/// <summary>Where a stream's starting weights come from.</summary>
public enum I3DInitialization
{
    /// <summary>Random initialisation (TorchSharp's defaults).</summary>
    Scratch,

    /// <summary>A pretrained I3D state_dict (e.g. pytorch-i3d's rgb_imagenet.pt); its logits layer is replaced for the new classes.</summary>
    Checkpoint,

    /// <summary>The architecture's ImageNet start (<see cref="VideoBackbone.ImageNetWeights"/>): for I3D a torchvision GoogLeNet
    /// state_dict inflated to 3-D (section 2.3), for the inflated ResNet-18 ResNet18.onnx. The flow stream averages the
    /// first layer's RGB filters over the colour channels.</summary>
    InflatedImageNet,
}

/// <summary>Options of <c>mlContext.MulticlassClassification.Trainers.I3D</c>. Defaults follow the paper where it says.</summary>
public sealed record I3DTrainerOptions
{
    /// <summary>Key-typed label column (map text labels with <c>MapValueToKey</c>).</summary>
    public string LabelColumnName { get; init; } = "Label";

    /// <summary>RGB clip column from SampleClips (N x 3 x T x H x W); <c>null</c> for no RGB stream.</summary>
    public string? RgbColumnName { get; init; } = "RgbClip";

    /// <summary>Flow clip column from SampleClips over ExtractOpticalFlow (N x 2 x T x H x W); <c>null</c> for no flow stream.</summary>
    public string? FlowColumnName { get; init; }

    /// <summary>Joined RGB and flow clip column from SampleClips over JoinRgbAndFlow (N x 5 x T x H x W), for the
    /// architectures that see both streams at once (the 3D-Fused network); <c>null</c> for none.</summary>
    public string? RgbAndFlowColumnName { get; init; }

    /// <summary>The clip column of each stream given, in stream order.</summary>
    internal IReadOnlyList<(VideoStream Stream, string Column)> StreamColumns
        => [.. new[] { (VideoStream.Rgb, RgbColumnName), (VideoStream.Flow, FlowColumnName), (VideoStream.RgbAndFlow, RgbAndFlowColumnName) }
            .Where(s => s.Item2 is not null).Select(s => (s.Item1, s.Item2!))];

    /// <summary>The output column of class probabilities.</summary>
    public string ScoreColumnName { get; init; } = "Score";

    /// <summary>The output column of the predicted class (a key over the class names).</summary>
    public string PredictedLabelColumnName { get; init; } = "PredictedLabel";

    /// <summary>The architecture of each stream, by name (<see cref="VideoBackbones"/>: <c>InceptionI3d</c>, the paper's, by default).</summary>
    public string Backbone { get; init; } = VideoBackbones.InceptionI3d.Name;

    /// <summary>The architecture <see cref="Backbone"/> names.</summary>
    internal VideoBackbone Architecture => VideoBackbones.Get(Backbone);

    /// <summary>Where the streams' starting weights come from.</summary>
    public I3DInitialization Initialization { get; init; } = I3DInitialization.Scratch;

    /// <summary>Starting weights of the RGB stream (a state_dict or a kinetics-i3d TensorFlow checkpoint prefix for <see cref="I3DInitialization.Checkpoint"/>,
    /// the 2-D ImageNet file for <see cref="I3DInitialization.InflatedImageNet"/>), and of the joined RGB-and-flow network
    /// (the 3D-Fused network's one stream).</summary>
    public string? RgbWeights { get; init; }

    /// <summary>Starting weights of the flow stream (as <see cref="RgbWeights"/>; ImageNet files are shared).</summary>
    public string? FlowWeights { get; init; }

    /// <summary>The file <paramref name="stream"/> starts from (null: none given): the RGB stream's and the joined
    /// network's <see cref="RgbWeights"/> (else <see cref="FlowWeights"/> for the joined one), the flow stream's
    /// <see cref="FlowWeights"/> (for an ImageNet start else the shared <see cref="RgbWeights"/>).</summary>
    internal string? WeightsFor(VideoStream stream) => stream switch
    {
        VideoStream.Rgb => RgbWeights,
        VideoStream.Flow => FlowWeights ?? (Initialization == I3DInitialization.InflatedImageNet ? RgbWeights : null),
        _ => RgbWeights ?? FlowWeights,
    };

    /// <summary>These options starting each stream of <paramref name="files"/> from its file (the inverse of <see cref="WeightsFor"/>).</summary>
    internal I3DTrainerOptions WithWeights(IReadOnlyDictionary<VideoStream, string> files) => this with
    {
        RgbWeights = files.GetValueOrDefault(VideoStream.Rgb) ?? files.GetValueOrDefault(VideoStream.RgbAndFlow),
        FlowWeights = files.GetValueOrDefault(VideoStream.Flow),
    };

    /// <summary>The paper's "Fixed" mode: only the last (logits) layer trains, the rest is a fixed feature extractor.</summary>
    public bool FixedFeatures { get; init; }

    /// <summary>Passes over the training rows.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Clips per SGD step.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Clips per forward/backward pass; gradients of BatchSize / MicroBatchSize passes are accumulated
    /// (several 64-frame clips do not fit in CPU memory at once). 0 = BatchSize.</summary>
    public int MicroBatchSize { get; init; }

    /// <summary>SGD learning rate (section 3: SGD with momentum 0.9).</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>SGD momentum (section 3: 0.9).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; } = 1e-7;

    /// <summary>Epochs without a better validation loss before the learning rate is divided by 10 (section 3).</summary>
    public int Patience { get; init; } = 2;

    /// <summary>
    /// Also at least this many SGD steps without a better loss before the learning rate drops: the patience in epochs
    /// is raised to cover them (<see cref="PatienceEpochs"/>). An epoch of a few batches gives a loss that is mostly
    /// noise; measured on 16 training videos (2 steps an epoch), 40 epochs with a patience of 2 epochs alone cut the
    /// rate from 1e-3 to 1e-4 by epoch 10, 1e-8 by epoch 20 and 1e-19 at the end. 0: epochs alone decide.
    /// </summary>
    public int PatienceSteps { get; init; } = DefaultPatienceSteps;

    /// <summary>The default of <see cref="PatienceSteps"/> (also that of the experiments and the command line).</summary>
    public const int DefaultPatienceSteps = 32;

    /// <summary>Epochs without a better loss before the learning rate drops, for epochs of <paramref name="stepsPerEpoch"/>
    /// SGD steps: <see cref="Patience"/>, or more to cover <see cref="PatienceSteps"/>.</summary>
    public int PatienceEpochs(long stepsPerEpoch) =>
        (int)Math.Max(Patience, stepsPerEpoch <= 0 ? Patience : (PatienceSteps + stepsPerEpoch - 1) / stepsPerEpoch);

    /// <summary>What the learning rate is multiplied by when the validation loss stops improving (section 3: 1/10).</summary>
    public double LearningRateFactor { get; init; } = 0.1;

    /// <summary>Share of the training rows (chosen by the row id and the seed) held out to measure the validation loss.</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Seed of the initial weights, the row order and the validation split.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Momentum of every BatchNorm's running statistics while training; <c>null</c> keeps the network's (0.01 in
    /// InceptionI3d, as pytorch-i3d). Short runs from scratch want more (e.g. 0.1): after n steps the running statistics
    /// have moved 1 - (1 - momentum)^n of the way from their initial values, and they are what scoring uses.
    /// </summary>
    public double? BatchNormMomentum { get; init; }

    /// <summary>
    /// After training, recompute every BatchNorm's running statistics as the exact average over the training clips
    /// (test protocol) with the final weights ("precise BN"), up to this many clips; 0 keeps the running averages.
    /// Scoring uses these statistics; after a short run they otherwise lag behind the weights. Default 256.
    /// </summary>
    public int BatchNormCalibrationClips { get; init; } = 256;

    /// <summary>The arithmetic of each training step: float32 (the default) or mixed precision with bfloat16
    /// convolutions (<see cref="TrainingPrecision.BFloat16"/>; architectures whose <c>TrainsInBFloat16</c> is true).</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>
    /// libtorch's CPU threads while training; 0 keeps its default (one per core). Runs are repeatable bit for bit only
    /// at a fixed count, and with more than one thread libtorch's parallel reductions were seen to vary between runs on
    /// a loaded machine (logits 0.5% apart after two epochs): use 1 where a resumed run must match an uninterrupted one
    /// exactly.
    /// </summary>
    public int Threads { get; init; }

    /// <summary><c>auto</c> (CUDA when TorchSharp sees a GPU), <c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "auto";

    /// <summary>Folder for checkpoints; a run with the same folder and options resumes from the last one.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Optimizer steps between checkpoints (one is also written at the end of every epoch).</summary>
    public int CheckpointEverySteps { get; init; } = 20;

    /// <summary>Progress reports (also written to ML.NET's log).</summary>
    [JsonIgnore]
    public IProgress<I3DTrainingProgress>? Progress { get; init; }

    internal int MicroBatch => MicroBatchSize <= 0 ? BatchSize : Math.Min(MicroBatchSize, BatchSize);

    internal void Validate()
    {
        if (StreamColumns.Count == 0) throw new ArgumentException("name an RGB clip column, a flow clip column, or both (or a joined RGB and flow column)");
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "at least one epoch");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "at least one clip per step");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be > 0");
        if (ValidationFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "must be in [0, 1)");
        if (Initialization != I3DInitialization.Scratch)
            foreach (var (stream, _) in StreamColumns)
                if (WeightsFor(stream) is null)
                    throw new ArgumentException($"{Initialization} initialisation needs {(stream == VideoStream.Flow ? nameof(FlowWeights) : nameof(RgbWeights))} (a weight file)");
        var architecture = VideoBackbones.Get(Backbone);
        foreach (var (stream, column) in StreamColumns)
            if (!architecture.Streams.Contains(stream))
                throw new ArgumentException($"{architecture.Name} trains on {string.Join(" and ", architecture.Streams.Select(s => s.Label()))} clips, not {stream.Label()} (column '{column}')");
        if (Initialization == I3DInitialization.InflatedImageNet && !architecture.HasImageNetStart)
            throw new ArgumentException($"{architecture.Name} has no ImageNet initialisation (the paper trains it from scratch): use Scratch or Checkpoint");
        if (!Enum.IsDefined(Precision)) throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Float32 or BFloat16");
        if (Precision == TrainingPrecision.BFloat16 && !architecture.TrainsInBFloat16)
            throw new ArgumentException($"{architecture.Name} trains in float32 only (Precision = BFloat16, mixed precision, is measured on InceptionI3d)");
        if (BatchNormMomentum is { } m && !(m > 0 && m <= 1)) throw new ArgumentOutOfRangeException(nameof(BatchNormMomentum), m, "must be in (0, 1]");
        TorchDevices.Check(Device);
    }
}

/// <summary>One progress report of the trainer.</summary>
public sealed record I3DTrainingProgress(
    string Phase, int Epoch, int Epochs, long Step, string Stream, double Loss, double LearningRate, double ClipsPerSecond,
    double? ValidationLoss = null, double? ValidationAccuracy = null)
{
    /// <inheritdoc/>
    public override string ToString() => Phase == "train"
        ? $"epoch {Epoch + 1}/{Epochs} step {Step} {Stream}: loss {Loss:0.0000} lr {LearningRate:g3} {ClipsPerSecond:0.0} clips/s"
        : $"epoch {Epoch + 1}/{Epochs} {Stream}: train loss {Loss:0.0000}, "
          + (ValidationLoss is { } v ? $"validation loss {v:0.0000} accuracy {ValidationAccuracy:P1}, " : "")
          + $"lr {LearningRate:g3}";
}
