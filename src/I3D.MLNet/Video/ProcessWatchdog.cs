using System.Diagnostics;

namespace I3D.MLNet.Video;

/// <summary>
/// Stops a child process that runs past a time limit or whose resident memory passes a limit, and says which. Native
/// decoders can hang or allocate without bound on a malformed file; the parent watches from outside, so neither costs
/// more than the child. Every 50 ms, and when the caller asks (<see cref="Check"/>, after a reply), the child's peak
/// resident memory is read (<c>VmHWM</c> in <c>/proc/PID/status</c>, its high-water mark: a peak between two samples is
/// not missed; where there is no such file, the resident memory of the moment).
/// </summary>
internal sealed class ProcessWatchdog : IDisposable
{
    private readonly Process _process;
    private readonly Timer _timer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TimeSpan _timeout;
    private readonly long _memoryLimitBytes;
    private int _stopped;

    /// <summary>Why the child was stopped (<c>null</c> while it was not): "did not finish in ..." or "used more than ...".</summary>
    public string? Verdict { get; private set; }

    /// <summary>The highest resident memory sampled, in bytes.</summary>
    public long PeakResidentBytes { get; private set; }

    public ProcessWatchdog(Process process, TimeSpan timeout, long memoryLimitBytes)
    {
        _process = process;
        _timeout = timeout;
        _memoryLimitBytes = memoryLimitBytes;
        _timer = new Timer(_ => Sample(), null, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
    }

    /// <summary>The timer's sample. An exception on a timer thread ends the whole process (the caller's, a test host's),
    /// so a sample never throws: the caller's own <see cref="Check"/> after the reply meets the same problem, where it
    /// can be handled.</summary>
    private void Sample()
    {
        try { Check(); }
        catch (Exception) { }
    }

    /// <summary>Stops the child if it passed a limit; <see cref="Verdict"/> then says which.</summary>
    public void Check()
    {
        if (Volatile.Read(ref _stopped) != 0) return;
        long resident;
        try
        {
            _process.Refresh();
            if (_process.HasExited) return;
            resident = PeakResident(_process.Id) ?? _process.WorkingSet64;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return; // exited between the calls
        }
        PeakResidentBytes = Math.Max(PeakResidentBytes, resident);
        if (resident > _memoryLimitBytes) Stop($"used more than {_memoryLimitBytes >> 20} MB of memory ({resident >> 20} MB resident)");
        else if (_clock.Elapsed > _timeout) Stop($"did not finish in {_timeout.TotalSeconds:0.#} s");
    }

    /// <summary>The high-water mark of a process's resident memory in bytes, or null where /proc does not say.</summary>
    internal static long? PeakResident(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), out long kib))
                    return kib << 10;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private void Stop(string verdict)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        Verdict = verdict;
        try { _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // already gone
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or AggregateException)
        {
            // A process of the tree could not be killed (gone meanwhile, or not ours): the verdict stands and the caller,
            // which waits for the child's exit, kills it again.
        }
    }

    /// <summary>The signal that ended a child (exit code 128 + n on Linux), by name, or <c>null</c> for an ordinary exit.</summary>
    public static string? SignalName(int exitCode) => exitCode switch
    {
        134 => "SIGABRT",
        135 => "SIGBUS",
        136 => "SIGFPE",
        132 => "SIGILL",
        137 => "SIGKILL",
        139 => "SIGSEGV",
        > 128 and < 160 => $"signal {exitCode - 128}",
        _ => null,
    };

    public void Dispose()
    {
        Volatile.Write(ref _stopped, 1);
        _timer.Dispose();
    }
}
