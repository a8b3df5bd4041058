using I3D.MLNet.Scoring;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.CompilerServices;
using I3D.MLNet.Clips;
using I3D.MLNet.Flow;
using I3D.MLNet.Torch.Backbones;
using I3D.MLNet.Torch.Training;

namespace I3D.MLNet.Cli;

/// <summary>
/// An option whose value is one of a few lower-case words (<c>--streams rgb|flow|both</c>). Help and completion show
/// only those words; for enums the old spellings (any case, and the CLR names such as <c>TvL1OpenCv</c>) are still read, for a release.
/// </summary>
internal sealed class ChoiceOption<T> : Option<string>
{
    private readonly (string Word, T Value)[] _choices;

    public ChoiceOption(string name, string description, string defaultWord, params (string Word, T Value)[] choices) : base(name)
    {
        _choices = choices;
        Description = description;
        DefaultValueFactory = _ => defaultWord;
        HelpName = string.Join('|', Words);
        CompletionSources.Add(Words.ToArray());
        Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && !TryRead(result.Tokens[^1].Value, out _))
                result.AddError($"{name}: '{result.Tokens[^1].Value}' is not one of {string.Join(", ", Words)}");
        });
    }

    public IEnumerable<string> Words => _choices.Select(c => c.Word);

    /// <summary>The value given (under this name or its old spelling), or the default.</summary>
    public T Read(ParseResult parse)
    {
        string word = parse.Value(this)!;
        return TryRead(word, out var value) ? value : throw new ArgumentException($"{Name}: '{word}' is not one of {string.Join(", ", Words)}");
    }

    private bool TryRead(string word, out T value)
    {
        foreach (var (w, v) in _choices)
        {
            if (w == word || typeof(T).IsEnum && (string.Equals(w, word, StringComparison.OrdinalIgnoreCase) || string.Equals(v?.ToString(), word, StringComparison.OrdinalIgnoreCase)))
            {
                value = v;
                return true;
            }
        }
        value = default!;
        return false;
    }
}

/// <summary>
/// An option whose value is a comma list of a few lower-case words (<c>--families appearance,order</c>). Help shows the
/// words comma-separated; completion offers each word. Not given: an empty list.
/// </summary>
internal sealed class ChoiceListOption<T> : Option<string>
{
    private readonly (string Word, T Value)[] _choices;

    public ChoiceListOption(string name, string description, params (string Word, T Value)[] choices) : base(name)
    {
        _choices = choices;
        Description = description;
        HelpName = string.Join(',', Words);
        CompletionSources.Add(Words.ToArray());
        Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            var bad = Items(result.Tokens[^1].Value).Where(w => !_choices.Any(c => c.Word == w)).ToList();
            if (bad.Count > 0 || Items(result.Tokens[^1].Value).Length == 0)
                result.AddError($"{name}: '{result.Tokens[^1].Value}' is not a comma list of {string.Join(", ", Words)}");
        });
    }

    public IEnumerable<string> Words => _choices.Select(c => c.Word);

    /// <summary>The values listed, each once, in the order given; empty when the option is not given.</summary>
    public IReadOnlyList<T> Read(ParseResult parse)
        => parse.GetValue(this) is { } list ? [.. Items(list).Distinct().Select(w => _choices.First(c => c.Word == w).Value)] : [];

    private static string[] Items(string list) => list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>The options several commands share, so that a word means the same thing everywhere.</summary>
internal static class CliOptions
{
    public static ChoiceOption<string> Device(string description) =>
        new("--device", description, "auto", [.. TorchDevices.Names.Select(n => (n, n))]);

    /// <summary><c>--architecture</c>: the registry's names (<see cref="VideoBackbones"/>); <c>inception-i3d</c> is the old word for <c>i3d</c>.</summary>
    public static ChoiceOption<VideoBackbone> Architecture() =>
        new("--architecture", $"the network: {string.Join(", ", VideoBackbones.All.Select(b => b.CliName))} (each brings the paper's clips of Table 1 unless given)", VideoBackbones.InceptionI3d.CliName,
            [.. VideoBackbones.All.Select(b => (b.CliName, b)), ("inception-i3d", VideoBackbones.InceptionI3d)]);

    public static ChoiceOption<I3DStreams> Streams(string description) =>
        new("--streams", description, "both", ("rgb", I3DStreams.Rgb), ("flow", I3DStreams.Flow), ("both", I3DStreams.Both), ("joint", I3DStreams.RgbAndFlow));

    public static ChoiceOption<FlowAlgorithm> FlowAlgorithm() =>
        new("--flow-algorithm", "tvl1 (ours, fast), tvl1-opencv (OpenCV's, the reference) or farneback", "tvl1",
            ("tvl1", Flow.FlowAlgorithm.TvL1), ("tvl1-opencv", Flow.FlowAlgorithm.TvL1OpenCv), ("farneback", Flow.FlowAlgorithm.Farneback));

    /// <summary><c>--patience-steps</c>: <see cref="I3DTrainerOptions.PatienceSteps"/>, for training and the experiments.</summary>
    public static Option<int> PatienceSteps() =>
        new("--patience-steps") { Description = "SGD steps without improvement (as well as the patience in epochs) before the learning rate drops; 0: epochs alone", DefaultValueFactory = _ => I3DTrainerOptions.DefaultPatienceSteps };

    /// <summary><c>--mixed-precision</c>: training with bfloat16 convolutions (<see cref="TrainingPrecision.BFloat16"/>).</summary>
    public static Option<bool> MixedPrecision() =>
        new("--mixed-precision") { Description = "Train with bfloat16 convolutions and float32 weights, BatchNorm, loss and SGD (mixed precision; InceptionI3d; faster on CPUs with AVX-512 BF16 or AMX, and on GPUs)" };

    /// <summary><c>--precision</c>: the arithmetic TorchSharp scores with (<see cref="ScoringPrecision"/>).</summary>
    public static ChoiceOption<ScoringPrecision> Precision() =>
        new("--precision", "float32 (the reference's arithmetic) or bfloat16 (about twice as fast on CPUs with AVX-512 BF16 or AMX, and on GPUs; logits within about 1e-2; TorchSharp only)", "float32",
            ("float32", ScoringPrecision.Float32), ("bfloat16", ScoringPrecision.BFloat16));

    public static ChoiceOption<ClipSamplingMode> Mode() =>
        new("--mode", "test: centre crop of centred (or --clips K evenly spaced) clips; train: random start, crop and flip; auto: test, but train inside the I3D trainer", "test",
            ("test", ClipSamplingMode.Test), ("train", ClipSamplingMode.Train), ("auto", ClipSamplingMode.Auto));
}

/// <summary>
/// Old option names kept, hidden from help, for a release: <c>command.AddRenamed(option, "--size")</c> adds the option and a
/// hidden one under the old name; <c>parse.Value(option)</c> reads either. A warning says the new name when the old is used.
/// </summary>
internal static class OldSpellings
{
    private static readonly ConditionalWeakTable<Option, Option> OldOf = [];
    private static readonly ConditionalWeakTable<Option, Option> CurrentOf = [];

    public static void AddRenamed<T>(this Command command, Option<T> option, string oldName)
    {
        var old = new Option<T>(oldName) { Hidden = true, Description = $"Old spelling of {option.Name}", CustomParser = option.CustomParser, Arity = option.Arity };
        foreach (var validator in option.Validators) old.Validators.Add(validator);
        command.Options.Add(option);
        command.Options.Add(old);
        OldOf.Add(option, old);
        CurrentOf.Add(old, option);
        command.Validators.Add(result =>
        {
            if (Given(result.GetResult(option)) && Given(result.GetResult(old))) result.AddError($"give {option.Name} or its old spelling {oldName}, not both");
        });
    }

    /// <summary>The option's value, read from its old spelling where that was given.</summary>
    public static T? Value<T>(this ParseResult parse, Option<T> option)
        => OldOf.TryGetValue(option, out var old) && Given(parse.GetResult(old)) ? parse.GetValue((Option<T>)old) : parse.GetValue(option);

    /// <summary>True when <paramref name="option"/> (or its old spelling) is on the command line, not just at its default.</summary>
    public static bool Given(ParseResult parse, Option option)
        => Given(parse.GetResult(option)) || OldOf.TryGetValue(option, out var old) && Given(parse.GetResult(old));

    /// <summary>The option <paramref name="old"/> is the old spelling of, if it is one.</summary>
    public static Option? CurrentName(Option old) => CurrentOf.TryGetValue(old, out var current) ? current : null;

    /// <summary>(old, new) names of the old spellings used on this command line.</summary>
    public static IEnumerable<(string Old, string New)> Used(ParseResult parse)
        => parse.CommandResult.Children.OfType<OptionResult>().Where(Given)
            .Select(r => (Old: r.Option.Name, New: CurrentName(r.Option)?.Name)).Where(p => p.New is not null).Select(p => (p.Old, p.New!));

    private static bool Given(OptionResult? result) => result is { Implicit: false };
}
