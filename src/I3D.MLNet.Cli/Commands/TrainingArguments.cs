using System.CommandLine;
using I3D.MLNet.Flow;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;
using I3D.MLNet.Video;

namespace I3D.MLNet.Cli.Commands;

/// <summary>The options of <c>i3d train</c> (and the defaults <c>i3d demo</c> changes).</summary>
internal sealed class TrainingArguments(int frames = 64, int size = 224, int epochs = 10, int batchSize = 8, double learningRate = 0.01)
{
    public ChoiceOption<I3DStreams> Streams { get; } = CliOptions.Streams("rgb, flow, both (trained separately, logits summed at test time) or joint (one network on both: --architecture 3d-fused)");
    public Option<int> Frames { get; } = new("--clip-frames") { Description = "Frames per clip", DefaultValueFactory = _ => frames };
    public Option<int> Size { get; } = new("--crop-size") { Description = "Crop height and width of the clips (the video's shorter side is resized to crop size x 256/224 first)", DefaultValueFactory = _ => size };
    public Option<int> Clips { get; } = new("--clips") { Description = "Clips per video at test time, evenly spaced and averaged (training draws one random clip per video per epoch)", DefaultValueFactory = _ => 1 };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Passes over the training videos", DefaultValueFactory = _ => epochs };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Clips per SGD step", DefaultValueFactory = _ => batchSize };
    public Option<int> MicroBatch { get; } = new("--micro-batch") { Description = "Clips per forward pass (gradient accumulation); 0 = batch size", DefaultValueFactory = _ => 0 };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "SGD learning rate (momentum 0.9; divided by 10 when the validation loss stops improving)", DefaultValueFactory = _ => learningRate };
    public Option<int> Patience { get; } = new("--patience") { Description = "Epochs without improvement before the learning rate drops", DefaultValueFactory = _ => 2 };
    public Option<int> PatienceSteps { get; } = CliOptions.PatienceSteps();
    public Option<double> Validation { get; } = new("--validation-fraction") { Description = "Share of training videos held out for the validation loss", DefaultValueFactory = _ => 0.1 };
    public ChoiceOption<VideoBackbone> Architecture { get; } = CliOptions.Architecture();
    public ChoiceOption<I3DInitialization> Init { get; } = new("--init", "scratch, checkpoint (pretrained I3D weights; logits replaced) or inflated-imagenet (2-D weights inflated)", "scratch",
        ("scratch", I3DInitialization.Scratch), ("checkpoint", I3DInitialization.Checkpoint), ("inflated-imagenet", I3DInitialization.InflatedImageNet));
    public Option<string?> RgbWeights { get; } = new("--rgb-weights") { Description = "Starting weights of the RGB stream (a state_dict or a kinetics-i3d TensorFlow checkpoint; ResNet18.onnx / GoogLeNet for inflated-imagenet)" };
    public Option<string?> FlowWeights { get; } = new("--flow-weights") { Description = "Starting weights of the flow stream" };
    public Option<bool> Fixed { get; } = new("--fixed") { Description = "Train only the last layer (the paper's \"Fixed\" mode)" };
    public ChoiceOption<FlowAlgorithm> FlowAlgorithm { get; } = CliOptions.FlowAlgorithm();
    public Option<string?> CacheDir { get; } = new("--cache-dir") { Description = "Folder for the optical-flow cache (computed once, reused by every epoch and run)" };
    public Option<string?> CheckpointDir { get; } = new("--checkpoint-dir") { Description = "Folder for checkpoints; the same command resumes from the last one after an interruption" };
    public Option<int> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "SGD steps between checkpoints", DefaultValueFactory = _ => 20 };
    public Option<bool> NoFlip { get; } = new("--no-flip") { Description = "No left-right flips while training (for classes a mirror changes, e.g. moving left vs right)" };
    public Option<double?> BatchNormMomentum { get; } = new("--bn-momentum") { Description = "BatchNorm running-statistics momentum while training (default: the network's, 0.01; short runs from scratch want ~0.1)" };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU threads for libtorch (0: one per core); a fixed count makes runs repeatable bit for bit (1 guarantees it)", DefaultValueFactory = _ => 0 };
    public Option<int> Seed { get; } = new("--seed") { Description = "Random seed (same seed, same run)", DefaultValueFactory = _ => 1 };
    public ChoiceOption<string> Device { get; } = CliOptions.Device("auto (cuda when TorchSharp sees a GPU), cpu or cuda");
    public Option<bool> MixedPrecision { get; } = CliOptions.MixedPrecision();
    public Option<bool> SkipInvalid { get; } = new("--skip-invalid") { Description = "Skip videos that do not decode (counted in the log) instead of stopping; decodes in a worker process, so a file that crashes or hangs the decoder is skipped too" };

    /// <summary>Adds the options to <paramref name="command"/>, with the old spellings of the renamed ones (hidden).</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Streams);
        command.AddRenamed(Frames, "--frames");
        command.AddRenamed(Size, "--size");
        command.AddRenamed(Architecture, "--backbone");
        foreach (var o in Others) command.Options.Add(o);
    }

    private IEnumerable<Option> Others => [Clips, Epochs, BatchSize, MicroBatch, LearningRate, Patience, PatienceSteps, Validation, Init,
        RgbWeights, FlowWeights, Fixed, FlowAlgorithm, CacheDir, CheckpointDir, CheckpointEvery, NoFlip, BatchNormMomentum, Threads, Seed, Device, MixedPrecision, SkipInvalid];

    /// <summary>
    /// The options given. An explicit --architecture brings its paper protocol (Table 1: streams, frames, stride, crop,
    /// test views) for every clip option not given; without one, the defaults of this command.
    /// </summary>
    public (ClipPipelineOptions Clips, I3DTrainerOptions Trainer) Read(ParseResult parse, IProgress<I3DTrainingProgress>? progress)
    {
        int seed = parse.GetValue(Seed);
        var architecture = Architecture.Read(parse);
        var paper = Given(parse, Architecture) ? ClipPipelineOptions.For(architecture) : null;
        bool skipInvalid = parse.GetValue(SkipInvalid); // a video that does not decode is skipped, decoded where it cannot crash the run
        var clips = new ClipPipelineOptions
        {
            Streams = paper is not null && !Given(parse, Streams) ? paper.Streams : Streams.Read(parse),
            Frames = paper is not null && !Given(parse, Frames) ? paper.Frames : parse.Value(Frames),
            FlowFrames = paper is not null && !Given(parse, Frames) ? paper.FlowFrames : null,
            FrameStride = paper?.FrameStride ?? 1,
            Size = paper is not null && !Given(parse, Size) ? paper.Size : parse.Value(Size),
            ClipsPerVideo = paper is not null && !Given(parse, Clips) ? paper.ClipsPerVideo : parse.GetValue(Clips),
            Seed = seed,
            FlipProbability = parse.GetValue(NoFlip) ? 0 : 0.5,
            Flow = new FlowOptions { Algorithm = FlowAlgorithm.Read(parse), CacheDirectory = parse.GetValue(CacheDir) },
            OnInvalidVideo = skipInvalid ? InvalidVideoHandling.Skip : InvalidVideoHandling.Throw,
            DecodeIsolation = skipInvalid ? VideoDecodeIsolation.WorkerProcess : VideoDecodeIsolation.InProcess,
        };
        var trainer = new I3DTrainerOptions
        {
            Epochs = parse.GetValue(Epochs),
            BatchSize = parse.GetValue(BatchSize),
            MicroBatchSize = parse.GetValue(MicroBatch),
            LearningRate = parse.GetValue(LearningRate),
            Patience = parse.GetValue(Patience),
            PatienceSteps = parse.GetValue(PatienceSteps),
            ValidationFraction = parse.GetValue(Validation),
            Backbone = architecture.Name,
            Initialization = Init.Read(parse),
            RgbWeights = parse.GetValue(RgbWeights),
            FlowWeights = parse.GetValue(FlowWeights),
            FixedFeatures = parse.GetValue(Fixed),
            CheckpointDirectory = parse.GetValue(CheckpointDir),
            CheckpointEverySteps = parse.GetValue(CheckpointEvery),
            Seed = seed,
            BatchNormMomentum = parse.GetValue(BatchNormMomentum),
            Threads = parse.GetValue(Threads),
            Device = Device.Read(parse),
            Precision = parse.GetValue(MixedPrecision) ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
            Progress = progress,
        };
        return (clips, trainer);
    }

    private static bool Given(ParseResult parse, Option option) => OldSpellings.Given(parse, option);
}
