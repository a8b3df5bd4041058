using I3D.MLNet.Scoring;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Torch.Experiments;

/// <summary>
/// What every training of one experiment shares (the clips otherwise follow each architecture's Table 1 row).
/// Training: SGD with momentum 0.9 and the learning rate divided by 10 when the loss stops improving (section 3), no
/// validation split, BatchNorm momentum 0.1 for these short runs, no left-right flips (the direction classes change
/// under a mirror).
/// </summary>
/// <remarks>The defaults are the settings measured in <c>docs/experiments.md</c>: on the synthetic benchmark's defaults
/// (<see cref="I3D.MLNet.Datasets.SyntheticActionsOptions"/>: 64-pixel frames) the five architectures train and score in
/// under 30 minutes on 2 CPU cores. The paper's clips (Table 1: I3D 64 x 224 x 224, C3D 16 x 112 x 112, ...) are
/// <c>CropSize: null, ClipFrames: null</c>; with batches of 8, learning rates of 0.003 and 0.01 made I3D's training
/// loss rise above chance within two epochs there.</remarks>
/// <param name="Epochs">Passes over the training videos.</param>
/// <param name="BatchSize">Clips per SGD step.</param>
/// <param name="LearningRate">SGD learning rate.</param>
/// <param name="CropSize">Crop height and width, for the architectures that take any; null for Table 1's.</param>
/// <param name="ClipFrames">Frames per clip, for the architectures that take any; null for Table 1's.</param>
/// <param name="Seed">Seed of the weights, the clips and the row order: the same seed gives the same table (at a fixed thread count).</param>
/// <param name="Threads">libtorch's CPU threads (0: one per core).</param>
/// <param name="ImageNet">ImageNet files (a torchvision GoogLeNet state_dict, ResNet18.onnx): an architecture that has an
/// ImageNet start and one of these of its kind (<see cref="VideoBackbone.IsImageNetFile"/>) starts from it, as the paper's
/// 2-D and I3D networks do (section 2); the others train from scratch. Null or empty: every architecture from scratch.</param>
/// <param name="PatienceSteps">SGD steps without a better loss before the learning rate drops, as well as 2 epochs
/// (<see cref="I3DTrainerOptions.PatienceSteps"/>): a small target set has epochs of one or two batches. Part of every
/// cell's key, so cells trained under another rule are trained again.</param>
public sealed record ExperimentSettings(int Epochs = 10, int BatchSize = 8, double LearningRate = 0.001, int? CropSize = 56, int? ClipFrames = 16, int Seed = 1, int Threads = 0,
    IReadOnlyList<string>? ImageNet = null, int PatienceSteps = I3DTrainerOptions.DefaultPatienceSteps)
{
    /// <summary>The ImageNet file <paramref name="backbone"/> starts from, or null (scratch).</summary>
    public string? ImageNetFor(VideoBackbone backbone) => ImageNet?.FirstOrDefault(backbone.IsImageNetFile);

    /// <summary>The clips of <paramref name="backbone"/>: Table 1's, at the crop and length given where the network takes
    /// them (C3D keeps 16 frames, the 3D-Fused network 50 and the 2-D flow tower whole stacks of 10: their layers fix
    /// them; C3D's fc6 is sized for the crop).</summary>
    public ClipPipelineOptions Clips(VideoBackbone backbone)
    {
        var paper = ClipPipelineOptions.For(backbone) with { FlipProbability = 0, Seed = Seed }; // direction classes change under a mirror
        int frames = ClipFrames ?? paper.Frames, size = CropSize ?? paper.Size;
        ClipPipelineOptions With(int f, int s) => paper with { Frames = f, Size = s, FlowFrames = f == paper.Frames ? paper.FlowFrames : null };
        bool Takes(ClipPipelineOptions c) => Shapes(c).All(shape => backbone.ExpectedShape(shape) is null);
        return new[] { With(frames, size), With(paper.Frames, size), With(frames, paper.Size) }.FirstOrDefault(Takes) ?? paper;
    }

    /// <summary>The trainer of one cell: these settings, its checkpoints in <paramref name="checkpoints"/> (a killed run resumes there).</summary>
    internal I3DTrainerOptions Trainer(VideoBackbone backbone, string checkpoints, IProgress<I3DTrainingProgress>? progress)
    {
        string? imageNet = ImageNetFor(backbone);
        return new()
        {
            Backbone = backbone.Name, Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, PatienceSteps = PatienceSteps,
            // The flow stream takes the same file (its first layer averaged over the colours, TSN).
            Initialization = imageNet is null ? I3DInitialization.Scratch : I3DInitialization.InflatedImageNet, RgbWeights = imageNet,
            ValidationFraction = 0, BatchNormMomentum = 0.1, Seed = Seed, Threads = Threads, Progress = progress,
            CheckpointDirectory = checkpoints, CheckpointEverySteps = 10,
        };
    }

    /// <summary>The clip shape (1, C, T, H, W) of each clip column the options make.</summary>
    private static IEnumerable<long[]> Shapes(ClipPipelineOptions c) => c.Streams switch
    {
        I3DStreams.Rgb => [[1, 3, c.Frames, c.Size, c.Size]],
        I3DStreams.Flow => [[1, 2, c.FlowFrames ?? c.Frames, c.Size, c.Size]],
        I3DStreams.Both => [[1, 3, c.Frames, c.Size, c.Size], [1, 2, c.FlowFrames ?? c.Frames, c.Size, c.Size]],
        _ => [[1, VideoStream.RgbAndFlow.Channels(), c.Frames, c.Size, c.Size]],
    };
}
