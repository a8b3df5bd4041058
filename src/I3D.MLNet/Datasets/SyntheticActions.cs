using System.Collections.ObjectModel;
using System.Text;
using OpenCvSharp;

namespace I3D.MLNet.Datasets;

/// <summary>
/// A synthetic action benchmark whose classes need different evidence, in families: <b>appearance</b> (nothing about
/// the object moves; its shape decides), <b>direction</b> (the direction of its motion decides) and <b>order</b> (only
/// the order of the frames decides: <c>shrink</c> is a time-reversed <c>grow</c>, <c>vanish</c> a time-reversed
/// <c>appear</c>, so no single frame and no unordered set of frames tells them apart), plus a disjoint set of
/// <b>transfer</b> targets (diagonal moves and turns) for few-shot transfer. Every class draws everything else
/// (textures, colours, position, speeds, size range, a slowly panning background, 1-2 moving distractor blobs) from the
/// same distributions, so that the family's evidence is the only cue. Videos are MJPEG AVI files in the
/// folder-per-class layout <c>DIR/train/&lt;class&gt;/</c> and <c>DIR/test/&lt;class&gt;/</c>, like
/// <see cref="SyntheticMotion"/>, so <see cref="VideoDataset.FromFolder"/> reads them.
/// </summary>
public static class SyntheticActions
{
    /// <summary>Family name of the appearance classes.</summary>
    public const string AppearanceFamily = "appearance";
    /// <summary>Family name of the direction classes.</summary>
    public const string DirectionFamily = "direction";
    /// <summary>Family name of the temporal-order classes.</summary>
    public const string OrderFamily = "order";
    /// <summary>Family name of the transfer-target classes (written when <see cref="SyntheticActionsOptions.Transfer"/> is set).</summary>
    public const string TransferFamily = "transfer";

    private static readonly double Diagonal = Math.Sqrt(0.5);

    private static readonly SyntheticActionClass[] All =
    [
        new("still_disc", AppearanceFamily, SyntheticEvidence.Still, SyntheticShape.Disc),
        new("still_square", AppearanceFamily, SyntheticEvidence.Still, SyntheticShape.Square),
        new("still_cross", AppearanceFamily, SyntheticEvidence.Still, SyntheticShape.Cross),
        new("move_left", DirectionFamily, SyntheticEvidence.Move, Direction: new Point2d(-1, 0)),
        new("move_right", DirectionFamily, SyntheticEvidence.Move, Direction: new Point2d(1, 0)),
        new("move_up", DirectionFamily, SyntheticEvidence.Move, Direction: new Point2d(0, -1)),
        new("move_down", DirectionFamily, SyntheticEvidence.Move, Direction: new Point2d(0, 1)),
        new("grow", OrderFamily, SyntheticEvidence.Grow),
        new("shrink", OrderFamily, SyntheticEvidence.Grow, Reversed: true),
        new("appear", OrderFamily, SyntheticEvidence.Fade),
        new("vanish", OrderFamily, SyntheticEvidence.Fade, Reversed: true),
        new("move_up_left", TransferFamily, SyntheticEvidence.Move, Direction: new Point2d(-Diagonal, -Diagonal)),
        new("move_down_right", TransferFamily, SyntheticEvidence.Move, Direction: new Point2d(Diagonal, Diagonal)),
        new("turn_clockwise", TransferFamily, SyntheticEvidence.Turn),
        new("turn_anticlockwise", TransferFamily, SyntheticEvidence.Turn, Reversed: true),
    ];

    private static readonly Dictionary<string, SyntheticActionClass> ByName = All.ToDictionary(c => c.Name);

    /// <summary>The family names (appearance, direction, order, transfer), in this order.</summary>
    public static IReadOnlyList<string> FamilyNames { get; } = [AppearanceFamily, DirectionFamily, OrderFamily, TransferFamily];

    /// <summary>Family name to its class names, in the order they are written.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Families { get; } = new ReadOnlyDictionary<string, IReadOnlyList<string>>(
        FamilyNames.ToDictionary(f => f, f => (IReadOnlyList<string>)All.Where(c => c.Family == f).Select(c => c.Name).ToArray()));

    /// <summary>The family name (a key of <see cref="Families"/>) of <paramref name="className"/>.</summary>
    /// <exception cref="ArgumentException">Not a class of this benchmark.</exception>
    public static string Family(string className) => Class(className).Family;

    /// <summary>The family name of one <see cref="SyntheticActionFamilies"/> flag.</summary>
    public static string FamilyName(SyntheticActionFamilies family) => family switch
    {
        SyntheticActionFamilies.Appearance => AppearanceFamily,
        SyntheticActionFamilies.Direction => DirectionFamily,
        SyntheticActionFamilies.Order => OrderFamily,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "one family flag"),
    };

    /// <summary>The classes <paramref name="options"/> writes: the transfer classes when
    /// <see cref="SyntheticActionsOptions.Transfer"/> is set, else those of the chosen families, family by family.</summary>
    public static IReadOnlyList<string> ClassesOf(SyntheticActionsOptions options)
    {
        if (options.Transfer) return Families[TransferFamily];
        return [.. new[] { SyntheticActionFamilies.Appearance, SyntheticActionFamilies.Direction, SyntheticActionFamilies.Order }
            .Where(f => options.Families.HasFlag(f)).SelectMany(f => Families[FamilyName(f)])];
    }

    /// <summary>Writes the dataset under <paramref name="directory"/>; returns the number of videos written. Reports (done, total) progress.</summary>
    /// <remarks>Each video's random choices come from (seed, split, class, index) alone, so a family's videos are
    /// the same whichever other families are written.</remarks>
    public static int Write(string directory, SyntheticActionsOptions options, IProgress<(int Done, int Total)>? progress = null)
    {
        options.Validate();
        NativeDependencies.EnsureOpenCv();
        var classes = ClassesOf(options);
        int total = classes.Count * (options.PerClass + options.TestCount), done = 0;
        using var renderer = new SyntheticActionRenderer();
        foreach (var (split, count) in new[] { ("train", options.PerClass), ("test", options.TestCount) })
        {
            foreach (string name in classes)
            {
                string folder = Path.Combine(directory, split, name);
                Directory.CreateDirectory(folder);
                for (int i = 0; i < count; i++)
                {
                    using var scene = Scene(name, options, split, i);
                    WriteVideo(Path.Combine(folder, $"{name}_{i:D3}.avi"), scene, options.FramesPerSecond, renderer);
                    progress?.Report((++done, total));
                }
            }
        }
        return total;
    }

    internal static SyntheticActionClass Class(string className) =>
        ByName.TryGetValue(className, out var c) ? c
            : throw new ArgumentException($"'{className}' is not a synthetic action class (the classes: {string.Join(", ", All.Select(a => a.Name))})", nameof(className));

    /// <summary>The scene of video <paramref name="index"/> of <paramref name="className"/> in <paramref name="split"/>.</summary>
    internal static SyntheticActionScene Scene(string className, SyntheticActionsOptions options, string split, int index)
        => SyntheticActionScene.Draw(Class(className), options.Size, options.Frames, new Random(VideoSeed(options.Seed, split, className, index)));

    /// <summary>A stable seed (FNV-1a; <c>string.GetHashCode</c> differs between processes).</summary>
    internal static int VideoSeed(int seed, string split, string className, int index)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes($"{seed}/{split}/{className}/{index}"))
            hash = (hash ^ b) * 1099511628211;
        return (int)(hash ^ (hash >> 32)) & int.MaxValue;
    }

    private static void WriteVideo(string path, SyntheticActionScene scene, double fps, SyntheticActionRenderer renderer)
        => SyntheticVideoFile.Write(path, fps, scene.Size, scene.Frames, (t, frame) => renderer.Render(scene, t, frame));
}
