using System.CommandLine;
using System.CommandLine.Completions;
using System.CommandLine.Help;
using System.Text.RegularExpressions;
using I3D.MLNet.Flow;

namespace I3D.MLNet.Cli.Tests;

/// <summary>One vocabulary over every command of <see cref="CliApp.Root"/>: a word means one thing everywhere.</summary>
public sealed class CliVocabularyTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("i3d-cli-vocabulary").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    /// <summary>Every option name the tool shows, with its one meaning. A new option picks a word from here or adds one.</summary>
    private static readonly Dictionary<string, string> Words = new()
    {
        ["--out"] = "the file (or folder) to write",
        ["--out-dir"] = "a folder to write one file per input into",
        ["--dir"] = "the working folder",
        ["--json"] = "machine-readable output on stdout",
        ["--seed"] = "random seed",
        ["--clip-frames"] = "frames per clip (T)",
        ["--max-frames"] = "use at most this many frames of a video",
        ["--video-frames"] = "frames per written video",
        ["--crop-size"] = "height and width of the clips (the centre or random crop a network takes)",
        ["--paper-clips"] = "each architecture's clips of Table 1 instead of the experiments' small defaults",
        ["--shorter-side"] = "resize the video's shorter side to this before cropping",
        ["--frame-size"] = "height and width of the written videos",
        ["--fps"] = "frame rate to resample the video to",
        ["--clips"] = "clips per video",
        ["--mode"] = "clip sampling protocol: test, train or auto",
        ["--streams"] = "rgb, flow or both",
        ["--device"] = "where to run: auto, cpu or cuda",
        ["--precision"] = "the arithmetic TorchSharp scores with: float32 or bfloat16",
        ["--mixed-precision"] = "train with bfloat16 convolutions and float32 weights (mixed precision)",
        ["--model"] = "a model to read (model zip, or ONNX stream for predict)",
        ["--flow-model"] = "a second (flow) ONNX stream",
        ["--rgb-weights"] = "RGB stream weights file",
        ["--flow-weights"] = "flow stream weights file",
        ["--labels"] = "class names file",
        ["--top"] = "how many classes to report",
        ["--data"] = "the labelled videos",
        ["--list"] = "UCF-101 list file",
        ["--hmdb-split"] = "HMDB-51 split number",
        ["--ucf-split"] = "UCF-101 split number",
        ["--video-root"] = "folder of the class folders of videos",
        ["--per-class"] = "training videos per class",
        ["--test-per-class"] = "test videos per class",
        ["--classes"] = "number of synthetic classes",
        ["--families"] = "which class families of the synthetic benchmark to write",
        ["--transfer"] = "write the synthetic benchmark's transfer-target classes",
        ["--epochs"] = "passes over the training videos",
        ["--lr"] = "learning rate",
        ["--batch-size"] = "clips per SGD step",
        ["--micro-batch"] = "clips per forward pass",
        ["--patience"] = "epochs before the learning rate drops",
        ["--patience-steps"] = "SGD steps before the learning rate drops",
        ["--validation-fraction"] = "share of training videos held out",
        ["--architecture"] = "the network's architecture",
        ["--architectures"] = "which architectures to compare",
        ["--source"] = "what a transfer pre-trains on: a folder of videos or weights files",
        ["--imagenet"] = "ImageNet weights an experiment's architectures start from",
        ["--target"] = "the small dataset a transfer is measured on",
        ["--target-per-class"] = "training videos per class of the transfer target",
        ["--source-epochs"] = "passes over the source videos when pre-training",
        ["--init"] = "initial weights",
        ["--fixed"] = "train only the last layer",
        ["--flow-algorithm"] = "optical flow algorithm",
        ["--cache-dir"] = "optical-flow cache folder",
        ["--checkpoint-dir"] = "training checkpoints folder",
        ["--checkpoint-every"] = "SGD steps between checkpoints",
        ["--no-flip"] = "no left-right flips while training",
        ["--bn-momentum"] = "BatchNorm momentum",
        ["--threads"] = "CPU threads for libtorch",
        ["--skip-invalid"] = "skip videos that do not decode",
        ["--raw"] = "flow displacements in pixels",
        ["--quantize"] = "8-bit flow",
        ["--png"] = "folder of colour-coded flow images",
        ["--save-pipeline"] = "also save the clip pipeline zip",
        ["--pipeline"] = "a saved clip pipeline zip to use",
        ["--stats"] = "throughput and memory on stderr",
        ["--what"] = "what a batch extraction computes per clip",
        ["--shard"] = "this process's shard of a batch job, i/N",
        ["--shards"] = "number of shards of a batch job (index from the scheduler)",
        ["--videos-per-file"] = "videos per output file of a batch job",
    };

    /// <summary>Old spellings, hidden, kept for a release: they meant different things in different commands.</summary>
    private static readonly string[] OldNames = ["--size", "--frames", "--algorithm", "--backbone"];

    private static IEnumerable<(Command Command, Option Option)> AllOptions()
    {
        static IEnumerable<Command> Commands(Command c) => c.Subcommands.SelectMany(s => Commands(s).Prepend(s));
        return Commands(CliApp.Root()).SelectMany(c => c.Options.Select(o => (c, o)));
    }

    private static (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = CliApp.Run(args, new InvocationConfiguration { Output = output, Error = error });
        return (rc, output.ToString(), error.ToString());
    }

    private static string OneLine(string stderr) => Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    [Fact]
    public void EveryOptionIsALowerCaseKebabWordWithOneMeaning()
    {
        var options = AllOptions().ToList();
        Assert.Equal(13, options.Select(p => p.Command).Distinct().Count()); // experiment architectures and experiment transfer are commands of their own
        foreach (var (command, option) in options)
        {
            string where = $"i3d {command.Name} {option.Name}";
            Assert.Matches(new Regex("^--[a-z0-9]+(-[a-z0-9]+)*$"), option.Name);
            Assert.Empty(option.Aliases);
            if (option.Hidden)
            {
                Assert.True(OldNames.Contains(option.Name), $"{where}: hidden, but not an old spelling");
                var current = OldSpellings.CurrentName(option);
                Assert.True(current is not null && command.Options.Contains(current) && !current.Hidden, $"{where}: an old spelling of no visible option");
                Assert.Equal(((Option)current!).ValueType, option.ValueType);
            }
            else
            {
                Assert.True(Words.ContainsKey(option.Name), $"{where}: not a vocabulary word");
                Assert.DoesNotContain(option.Name, OldNames);
            }
        }
        // A word has one value type wherever it is used (int and int? are one type: "not given" is no other meaning).
        foreach (var word in options.GroupBy(p => p.Option.Name))
            Assert.Single(word.Select(p => Nullable.GetUnderlyingType(p.Option.ValueType) ?? p.Option.ValueType).Distinct());
        // The words that drifted now say one thing each.
        Assert.All(options.Where(p => p.Option.Name == "--crop-size"), p => Assert.Contains("crop", p.Option.Description, StringComparison.OrdinalIgnoreCase));
        Assert.All(options.Where(p => p.Option.Name == "--clip-frames"), p => Assert.Contains("frames per clip", p.Option.Description, StringComparison.OrdinalIgnoreCase));
        Assert.All(options.Where(p => p.Option.Name == "--shorter-side"), p => Assert.Contains("shorter side", p.Option.Description, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void EnumLikeValuesAreLowerCase()
    {
        int choices = 0;
        foreach (var (command, option) in AllOptions())
        {
            var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
            Assert.False(type.IsEnum, $"i3d {command.Name} {option.Name}: an enum option shows its CLR names; use a ChoiceOption");
            var words = option.GetCompletions(CompletionContext.Empty).Select(c => c.Label).ToList();
            if (words.Count == 0 || type == typeof(bool)) continue;
            choices++;
            Assert.All(words, w => Assert.Matches(new Regex("^[a-z0-9]+(-[a-z0-9]+)*$"), w));
            Assert.Equal(words.Order(), option.HelpName!.Split('|', ',').Order()); // help shows the words, and only those (a list option: comma-separated)
        }
        Assert.True(choices >= 7, $"{choices} options with words"); // --mode, --device x2, --streams x2, --flow-algorithm x2, --backbone, --init
    }

    [Fact]
    public void DeviceIsAutoCpuOrCudaEverywhereCheckedAtParseTime()
    {
        var commands = AllOptions().Where(p => p.Option.Name == "--device").ToList();
        Assert.Equal(["extract", "predict", "train"], commands.Select(p => p.Command.Name).Order());
        foreach (var (command, option) in commands)
        {
            Assert.Equal(["auto", "cpu", "cuda"], option.GetCompletions(CompletionContext.Empty).Select(c => c.Label));
            foreach (var word in new[] { "auto", "cpu", "cuda" })
                Assert.DoesNotContain(CliApp.Root().Parse([command.Name, "--device", word]).Errors, e => e.Message.Contains("--device"));
            foreach (var bad in new[] { "gpu", "CUDA" })
            {
                var (rc, stdout, stderr) = Run(command.Name, "x", "--device", bad);
                Assert.Equal(2, rc);
                Assert.Equal("", stdout);
                Assert.Contains($"--device: '{bad}' is not one of auto, cpu, cuda", OneLine(stderr));
            }
        }
    }

    [Fact]
    public void UnknownOptionsExit2SuggestingTheClosestName()
    {
        // Before, predict took "--modle" and "x.zip" as two more inputs.
        var (rc, stdout, stderr) = Run("predict", Path.Combine(dir, "a.npy"), "--modle", "x.zip");
        Assert.Equal(2, rc);
        Assert.Equal("", stdout);
        Assert.Equal("i3d predict: unknown option --modle (did you mean --model?) (see i3d predict --help)", OneLine(stderr));

        foreach (var (args, expected) in new (string[], string)[]
        {
            (["evaluate", "--modle", "x.zip", "--data", dir], "unknown option --modle (did you mean --model?)"),
            (["clips", "v.mp4", "--out", "x.npy", "--crop-sise=112"], "unknown option --crop-sise=112 (did you mean --crop-size?)"),
            (["synth", "--out", dir, "--sise", "64"], "unknown option --sise (did you mean --frame-size?)"), // an old spelling suggests the new word
            (["predcit", "x.npy"], "unknown command predcit (did you mean predict?)"),
            (["info", "v.mp4", "--no-such-thing"], "unknown option --no-such-thing (see i3d info --help)"),
        })
        {
            (rc, _, stderr) = Run(args);
            Assert.Equal(2, rc);
            Assert.Contains(expected, OneLine(stderr));
        }
        // After "--" a dash is a file name.
        (rc, _, stderr) = Run("info", "--", "-odd.mp4");
        Assert.Equal(1, rc);
        Assert.Contains("-odd.mp4: no such file", OneLine(stderr));
    }

    [Fact]
    public void UsageErrorsExit2AndFailuresExit1WithOneLineInEveryCommand()
    {
        string missing = Path.Combine(dir, "missing");
        var failures = new Dictionary<string, string[]>
        {
            ["info"] = [missing + ".mp4"],
            ["clips"] = [missing + ".mp4", "--out", Path.Combine(dir, "x.npy")],
            ["predict"] = [missing + ".npy", "--model", missing + ".zip"],
            ["synth"] = ["--out", "/dev/null/x", "--per-class", "1"],
            ["flow"] = [missing + ".mp4", "--out", Path.Combine(dir, "x.npy")],
            ["train"] = ["--data", missing, "--out", Path.Combine(dir, "x.zip")],
            ["evaluate"] = ["--model", missing + ".zip", "--data", missing],
            ["demo"] = ["--dir", "/dev/null/x", "--per-class", "1"],
            ["export-onnx"] = ["--rgb-weights", missing + ".pt", "--out", Path.Combine(dir, "x.onnx")],
            ["convert"] = [missing, "--out", Path.Combine(dir, "x.pt")],
            ["experiment"] = ["architectures", "--data", missing, "--out", Path.Combine(dir, "report")],
            ["extract"] = ["--data", missing, "--what", "flow", "--out", Path.Combine(dir, "extract")],
        };
        Assert.Equal(CliApp.Root().Subcommands.Select(c => c.Name).Order(), failures.Keys.Order());
        foreach (var (command, args) in failures)
        {
            // Every command runs through CliRunner: its failure reaches the configured error writer as one line, exit 1.
            var (rc, stdout, stderr) = Run([command, .. args]);
            Assert.True(rc == 1, $"i3d {command}: exit {rc}: {stderr}");
            Assert.StartsWith("i3d: ", OneLine(stderr));
            Assert.DoesNotContain("internal error", stderr);
            Assert.Equal("", stdout);

            (rc, _, stderr) = Run([command, .. args, "--seed", "x"]); // a usage error: exit 2, nothing run
            Assert.True(rc == 2, $"i3d {command} --seed x: exit {rc}: {stderr}");
            Assert.StartsWith($"i3d {command}{(command == "experiment" ? " architectures" : "")}: ", OneLine(stderr));
        }
    }

    [Fact]
    public void OldSpellingsAreHiddenAliasesForARelease()
    {
        var root = CliApp.Root();
        T Value<T>(string[] args, string command, string name)
        {
            var parse = root.Parse(args);
            Assert.Empty(parse.Errors);
            var option = (Option<T>)root.Subcommands.Single(c => c.Name == command).Options.Single(o => o.Name == name);
            return parse.Value(option)!;
        }
        Assert.Equal(64, Value<int>(["synth", "--out", "d", "--size", "64", "--frames", "12"], "synth", "--frame-size"));
        Assert.Equal(12, Value<int>(["synth", "--out", "d", "--size", "64", "--frames", "12"], "synth", "--video-frames"));
        Assert.Equal(112, Value<int>(["clips", "v.mp4", "--size", "112"], "clips", "--crop-size"));
        Assert.Equal(16, Value<int>(["train", "--data", "d", "--out", "m.zip", "--frames", "16"], "train", "--clip-frames"));
        Assert.Equal(7, Value<int?>(["flow", "v.mp4", "--frames", "7"], "flow", "--max-frames"));
        Assert.Equal(96, Value<int?>(["export-onnx", "--out", "x.onnx", "--size", "96"], "export-onnx", "--crop-size"));
        Assert.Equal(128, Value<int>(["clips", "v.mp4", "--crop-size", "128"], "clips", "--crop-size"));

        // Old values: the CLR names of before (TvL1OpenCv, Both, InflatedImageNet) still read.
        var parse = root.Parse(["train", "--data", "d", "--out", "m.zip", "--flow-algorithm", "TvL1OpenCv", "--streams", "Both", "--init", "InflatedImageNet"]);
        Assert.Empty(parse.Errors);
        var train = root.Subcommands.Single(c => c.Name == "train");
        Assert.Equal(FlowAlgorithm.TvL1OpenCv, ((ChoiceOption<FlowAlgorithm>)train.Options.Single(o => o.Name == "--flow-algorithm")).Read(parse));

        // Hidden from help; both spellings at once is a usage error.
        var help = new StringWriter();
        root.Parse(["synth", "--help"]).Invoke(new InvocationConfiguration { Output = help });
        Assert.Contains("--frame-size", help.ToString());
        Assert.DoesNotContain("--size", help.ToString());
        var (rc, _, stderr) = Run("synth", "--out", dir, "--size", "64", "--frame-size", "64");
        Assert.Equal(2, rc);
        Assert.Contains("give --frame-size or its old spelling --size, not both", OneLine(stderr));
    }
}
