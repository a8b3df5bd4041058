using System.CommandLine;
using I3D.MLNet.Video;

namespace I3D.MLNet.Cli;

/// <summary>Runs a command body: expected failures become one line on stderr and exit code 1, never a stack trace.</summary>
internal static class CliRunner
{
    /// <param name="parse">Its invocation configuration's error writer hears the failure (the console by default).</param>
    public static int Run(ParseResult parse, Func<int> body)
    {
        var error = parse.InvocationConfiguration.Error;
        try
        {
            return body();
        }
        catch (Exception e)
        {
            // Expected failures (bad input, missing files or libraries) read as a sentence; anything else is a bug,
            // said as such, still on one line.
            string prefix = IsUserFacing(e) ? "" : $"internal error ({NativeDependencies.Innermost(e).GetType().Name}): ";
            error.WriteLine($"i3d: {prefix}{OneLine(e)}");
            if (Environment.GetEnvironmentVariable("I3D_DEBUG") == "1") error.WriteLine(e);
            return 1;
        }
    }

    private static bool IsUserFacing(Exception e) => e is VideoDecodeException or NativeDependencyException or IOException
        or InvalidDataException or ArgumentException or UnauthorizedAccessException or InvalidOperationException or NotSupportedException
        or FormatException or OperationCanceledException or I3D.MLNet.Torch.Weights.WeightFileException
        || e.InnerException is { } inner && IsUserFacing(inner);

    /// <summary>The innermost message that says something (ML.NET wraps cursor exceptions).</summary>
    internal static string OneLine(Exception e)
    {
        while (e.InnerException != null && (e is InvalidOperationException or System.Reflection.TargetInvocationException or AggregateException || e.GetType().Namespace?.StartsWith("Microsoft.ML") == true))
            e = e.InnerException;
        return e.Message.Split('\n')[0].Trim();
    }
}
