namespace I3D.MLNet.Torch.Weights;

/// <summary>
/// The class names of the published Kinetics models in their class order (models/kinetics400_labels.txt and
/// models/kinetics600_labels.txt, embedded): what 400- and 600-class weights are labelled with unless told otherwise.
/// </summary>
public static class KineticsClasses
{
    private static readonly Lazy<string[]> Names400 = new(() => Read("kinetics400_labels.txt"));
    private static readonly Lazy<string[]> Names600 = new(() => Read("kinetics600_labels.txt"));

    /// <summary>The Kinetics-400 names (pytorch-i3d's and kinetics-i3d's 400-class models).</summary>
    public static IReadOnlyList<string> Kinetics400 => Names400.Value;

    /// <summary>The Kinetics-600 names (kinetics-i3d's rgb_scratch_kin600).</summary>
    public static IReadOnlyList<string> Kinetics600 => Names600.Value;

    /// <summary>The Kinetics list with <paramref name="classes"/> names, or null for another class count.</summary>
    public static IReadOnlyList<string>? ForClassCount(int classes) => classes switch
    {
        400 => Kinetics400,
        600 => Kinetics600,
        _ => null,
    };

    private static string[] Read(string name)
    {
        using var stream = typeof(KineticsClasses).Assembly.GetManifestResourceStream($"I3D.MLNet.Torch.{name}")
            ?? throw new InvalidOperationException($"the class list {name} is missing from I3D.MLNet.Torch");
        using var reader = new StreamReader(stream);
        return [.. reader.ReadToEnd().Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)];
    }
}
