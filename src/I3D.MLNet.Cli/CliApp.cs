using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using I3D.MLNet.Cli.Commands;

namespace I3D.MLNet.Cli;

/// <summary>
/// The <c>i3d</c> command line: its commands, and how a command line becomes an exit code: 2 for a usage error
/// (unknown option, bad value; one line on stderr, nothing run), 1 for a failure (<see cref="CliRunner"/>), 0 for success.
/// </summary>
internal static class CliApp
{
    public const int UsageError = 2;

    public static RootCommand Root()
    {
        var root = new RootCommand("i3d: video action recognition with I3D (Carreira & Zisserman, CVPR 2017) for .NET and ML.NET");
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(ClipsCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(FlowCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ExportOnnxCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        root.Subcommands.Add(ExtractCommand.Create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; output and errors go to <paramref name="configuration"/>'s writers (the console by default).</summary>
    public static int Run(string[] args, InvocationConfiguration? configuration = null) => Run(Root(), args, configuration);

    public static int Run(RootCommand root, string[] args, InvocationConfiguration? configuration = null)
    {
        configuration ??= new InvocationConfiguration();
        var parsed = root.Parse(args);
        var command = parsed.CommandResult.Command;
        // The command's path: "i3d experiment architectures" for a nested one.
        var path = new List<string>();
        for (var r = parsed.CommandResult; r is not null && r.Command != root; r = r.Parent as System.CommandLine.Parsing.CommandResult) path.Insert(0, r.Command.Name);
        string usage = string.Join(' ', path.Prepend("i3d"));
        var unknown = UnknownOptions(parsed).Select(token => $"unknown option {token}{DidYouMean(token.Split('=', 2)[0], OptionNames(command))}").ToList();
        if (command == root && parsed.UnmatchedTokens.FirstOrDefault() is { } first && !LooksLikeOption(first))
            unknown.Insert(0, $"unknown command {first}{DidYouMean(first, root.Subcommands.Select(c => (c.Name, c.Name)))}");
        var errors = unknown.Count > 0 ? unknown : parsed.Errors.Select(e => e.Message).ToList();
        if (errors.Count > 0)
        {
            // One line, as every other error of the tool; --help shows the usage.
            configuration.Error.WriteLine($"{usage}: {Regex.Replace(string.Join("; ", errors), @"\s+", " ")} (see {usage} --help)");
            return UsageError;
        }
        foreach (var (old, current) in OldSpellings.Used(parsed))
            configuration.Error.WriteLine($"{usage}: warning: {old} is now {current}; the old spelling goes in a later release");
        return parsed.Invoke(configuration);
    }

    /// <summary>Tokens that look like options (<c>--modle</c>, <c>-x</c>) but name none: left over, or taken as arguments (file names).</summary>
    internal static IEnumerable<string> UnknownOptions(ParseResult parsed)
    {
        // After "--" everything is an argument, whatever it looks like.
        int doubleDash = parsed.Tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        var literal = doubleDash < 0 ? [] : parsed.Tokens.Skip(doubleDash).ToHashSet();
        var candidates = parsed.UnmatchedTokens.Concat(parsed.CommandResult.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens.Where(t => !literal.Contains(t)).Select(t => t.Value)));
        return candidates.Where(LooksLikeOption).Distinct();
    }

    private static bool LooksLikeOption(string token) => token.Length > 1 && token[0] == '-' && (char.IsLetter(token[1]) || token[1] == '-' && token.Length > 2);

    /// <summary>The names a user may mean on <paramref name="command"/> (with <c>--help</c>), each with the name to suggest: an old spelling suggests the new one.</summary>
    private static IEnumerable<(string Name, string Suggestion)> OptionNames(Command command)
    {
        var options = new List<Option>(command.Options);
        for (var c = command.Parents.OfType<Command>().FirstOrDefault(); c != null; c = c.Parents.OfType<Command>().FirstOrDefault())
            options.AddRange(c.Options.Where(o => o.Recursive));
        return options.SelectMany(o => o.Aliases.Prepend(o.Name).Select(name => (name, (OldSpellings.CurrentName(o) ?? o).Name)));
    }

    /// <summary>" (did you mean X?)" for the name nearest to <paramref name="typed"/>, or "" if none is near.</summary>
    private static string DidYouMean(string typed, IEnumerable<(string Name, string Suggestion)> names)
    {
        var best = names.Select(n => (n.Suggestion, Distance: Distance(typed, n.Name))).OrderBy(p => p.Distance).FirstOrDefault();
        return best.Suggestion is not null && best.Distance <= Math.Max(2, typed.Length / 3) ? $" (did you mean {best.Suggestion}?)" : "";
    }

    /// <summary>Levenshtein distance.</summary>
    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }
}
