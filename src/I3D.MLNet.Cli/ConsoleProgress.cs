namespace I3D.MLNet.Cli;

/// <summary>A one-line progress bar on stderr, drawn only when stdout is a terminal (so pipes and --json stay clean).</summary>
internal sealed class ConsoleProgress : IProgress<(int Done, int Total, string What)>, IDisposable
{
    private readonly bool _enabled = !Console.IsOutputRedirected && !Console.IsErrorRedirected;
    private bool _drawn;

    public void Report((int Done, int Total, string What) value)
    {
        if (!_enabled) return;
        const int width = 30;
        int filled = value.Total > 0 ? (int)Math.Round(width * (double)value.Done / value.Total) : 0;
        string what = value.What.Length > 40 ? "..." + value.What[^37..] : value.What;
        Console.Error.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {value.Done}/{value.Total} {what}".PadRight(100));
        _drawn = true;
    }

    public void Dispose()
    {
        if (_drawn) Console.Error.WriteLine();
    }
}
