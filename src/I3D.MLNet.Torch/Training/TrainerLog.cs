using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace I3D.MLNet.Torch.Training;

/// <summary>What of ML.NET's log someone running a training wants to see: warnings (skipped videos, rows without
/// labels), the trainer's set-up line (its streams) and its resume line (where a killed run goes on from).</summary>
public static class TrainerLog
{
    /// <summary>Writes those messages of <paramref name="ml"/>'s log to <paramref name="log"/>, one line each (a progress
    /// line being redrawn with '\r' is overwritten), without ML.NET's <c>[Source=...]</c> prefix.</summary>
    /// <param name="ml">The context the pipeline is fitted in.</param>
    /// <param name="log">Where the lines go (the terminal's error stream in the CLI).</param>
    public static void WriteTo(MLContext ml, TextWriter log)
    {
        ml.Log += (_, e) =>
        {
            if (e.Kind == ChannelMessageKind.Warning || e.Message.Contains("I3D: resuming", StringComparison.Ordinal) || e.Message.Contains(" stream(s) (", StringComparison.Ordinal))
            {
                string text = e.Message[(e.Message.IndexOf("] ", StringComparison.Ordinal) + 1)..].Trim();
                lock (log) log.WriteLine($"\r{text}".PadRight(100));
            }
        };
    }
}
