using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using I3D.MLNet.ModelZip;

namespace I3D.MLNet.Video;

/// <summary>
/// Decodes videos in a child process (<see cref="VideoDecodeIsolation.WorkerProcess"/>), so that a file that makes
/// FFmpeg crash, hang or allocate without bound costs one video, not the run: the parent sees a
/// <see cref="VideoDecodeException"/> naming the file, and the next video gets a fresh worker. One worker serves one
/// cursor, one video at a time, and lives until the cursor is disposed (starting one costs about 0.2 s).
/// </summary>
/// <remarks>
/// The worker is <c>I3D.MLNet.VideoWorker.dll</c> (beside I3D.MLNet.dll in the build output and the package) run by the
/// same <c>dotnet</c> on the application's own deps.json, so it decodes with the same OpenCV as the process would.
/// Protocol over the worker's stdin and stdout (<see cref="BinaryWriter"/> encoding, little-endian); stderr is FFmpeg's:
/// <list type="bullet">
/// <item>request: string path, string <see cref="VideoDecodeOptions"/> as JSON, byte <see cref="VideoDecoderBackend"/>;</item>
/// <item>response: byte status (0 decoded, 1 the video cannot be decoded, 2 another error, 3 OpenCV cannot load); then for 0: int frames,
/// int height, int width, double frames per second, and frames x height x width x 3 RGB bytes; else string problem.</item>
/// </list>
/// </remarks>
internal sealed class VideoDecodeWorker(TimeSpan timeout, long memoryLimitBytes) : IDisposable
{
    private const byte Decoded = 0, Undecodable = 1, Failed = 2, NativeMissing = 3;
    private const string WorkerFile = "I3D.MLNet.VideoWorker.dll";

    private Process? _process;
    private BinaryWriter? _requests;
    private BinaryReader? _responses;
    private readonly Queue<string> _stderr = new();

    /// <summary>The worker's process id while one runs (for tests that signal it).</summary>
    internal int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Decodes <paramref name="path"/> into <paramref name="frames"/> in the worker; throws
    /// <see cref="VideoDecodeException"/> for a video that cannot be decoded, crashes the decoder or passes a limit.</summary>
    public void Decode(string path, VideoDecodeOptions options, VideoFrames frames) => Decode(path, options, VideoDecoderBackend.Auto, frames);

    /// <summary>As <see cref="Decode(string, VideoDecodeOptions, VideoFrames)"/>, with the given FFmpeg.</summary>
    public void Decode(string path, VideoDecodeOptions options, VideoDecoderBackend backend, VideoFrames frames)
    {
        options.Validate();
        var process = Start();
        using var watchdog = new ProcessWatchdog(process, timeout, memoryLimitBytes);
        try
        {
            _requests!.Write(path);
            _requests.Write(ModelZipFormat.ToJson(options));
            _requests.Write((byte)backend);
            _requests.Flush();
            byte status = _responses!.ReadByte();
            if (status != Decoded)
            {
                string problem = _responses.ReadString();
                if (status == NativeMissing) throw new NativeDependencyException(problem);
                throw status == Undecodable ? new VideoDecodeException(path, problem) : new VideoDecodeException(path, $"the decoding worker failed: {problem}");
            }
            int count = _responses.ReadInt32(), height = _responses.ReadInt32(), width = _responses.ReadInt32();
            double fps = _responses.ReadDouble();
            if (count < 0 || height < 0 || width < 0 || (long)count * height * width * 3 > Array.MaxLength)
                throw new VideoDecodeException(path, $"the decoding worker sent an impossible shape ({count} x {height} x {width})");
            frames.Reset(FrameElementKind.Rgb24, count, height, width);
            frames.FramesPerSecond = fps;
            frames.Source = path;
            _responses.BaseStream.ReadExactly(frames.Bytes);
            // A decode that passed the memory limit and finished between two of the watchdog's samples.
            watchdog.Check();
            if (watchdog.Verdict != null) throw new VideoDecodeException(path, Ended(process, watchdog.Verdict));
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            // The worker is gone: stopped by the watchdog, or crashed inside the decoder.
            string what = Ended(process, watchdog.Verdict);
            throw new VideoDecodeException(path, what, e);
        }
    }

    private string Ended(Process process, string? verdict)
    {
        if (!process.WaitForExit(5000)) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        int exitCode = process.ExitCode;
        Stop();
        if (verdict != null) return $"decoding {verdict} (the decoding worker was stopped; the video is probably malformed)";
        string? signal = ProcessWatchdog.SignalName(exitCode);
        string tail;
        lock (_stderr) tail = string.Join(" | ", _stderr);
        return (signal != null ? $"the decoder crashed ({signal}) in the decoding worker" : $"the decoding worker exited with code {exitCode}")
            + (tail.Length > 0 ? $"; its last messages: {tail}" : "") + " (the video is probably malformed)";
    }

    private Process Start()
    {
        if (_process is { HasExited: false }) return _process;
        Stop();
        string libraryFolder = Path.GetDirectoryName(typeof(VideoDecodeWorker).Assembly.Location) ?? AppContext.BaseDirectory;
        string worker = Path.Combine(libraryFolder, WorkerFile);
        if (!File.Exists(worker))
            throw new NativeDependencyException($"the decoding worker {worker} is missing (it comes with the I3D.MLNet package beside I3D.MLNet.dll); decode in this process with VideoLoaderOptions.Isolation = InProcess");
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add("--runtimeconfig");
        info.ArgumentList.Add(RuntimeConfig.Value);
        if (ApplicationDepsFile() is { } deps)
        {
            info.ArgumentList.Add("--depsfile");
            info.ArgumentList.Add(deps);
        }
        info.ArgumentList.Add(worker);
        info.ArgumentList.Add("--probe");
        info.ArgumentList.Add(libraryFolder);
        lock (_stderr) _stderr.Clear(); // before the new worker can write: its messages are the ones a crash reports
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {worker}");
        process.ErrorDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            lock (_stderr)
            {
                _stderr.Enqueue(e.Data.Length > 300 ? e.Data[..300] : e.Data);
                while (_stderr.Count > 5) _stderr.Dequeue();
            }
        };
        process.BeginErrorReadLine();
        _process = process;
        _requests = new BinaryWriter(process.StandardInput.BaseStream, Encoding.UTF8);
        _responses = new BinaryReader(process.StandardOutput.BaseStream, Encoding.UTF8);
        return process;
    }

    /// <summary>The <c>dotnet</c> that runs this process (the runtime's folder is DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION).</summary>
    internal static string DotnetHost()
    {
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
    }

    private static string? ApplicationDepsFile()
        => (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string)?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(File.Exists);

    /// <summary>A runtimeconfig.json for the runtime this process runs on (the package carries the worker's dll only).</summary>
    private static readonly Lazy<string> RuntimeConfig = new(() =>
    {
        string version = RuntimeInformation.FrameworkDescription.Split(' ').Last();
        string file = Path.Combine(Path.GetTempPath(), $"i3d-mlnet-worker-{version}.runtimeconfig.json");
        string text = "{\"runtimeOptions\":{\"tfm\":\"net" + Environment.Version.ToString(2) + "\",\"framework\":{\"name\":\"Microsoft.NETCore.App\",\"version\":\"" + version + "\"}}}";
        if (!File.Exists(file) || File.ReadAllText(file) != text) IO.AtomicFile.WriteAllText(file, text);
        return file;
    });

    private void Stop()
    {
        _requests?.Dispose();
        _responses?.Dispose();
        _requests = null;
        _responses = null;
        if (_process is { } p)
        {
            try
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                // Gone when this returns: a worker killed but not yet reaped still shows in /proc for a moment.
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        _process = null;
    }

    /// <inheritdoc/>
    public void Dispose() => Stop();

    /// <summary>The worker's side: reads requests from stdin until it closes, answers on stdout. Called by reflection
    /// from I3D.MLNet.VideoWorker's entry point.</summary>
    internal static int Serve()
    {
        using var input = new BinaryReader(Console.OpenStandardInput(), Encoding.UTF8);
        using var output = new BinaryWriter(Console.OpenStandardOutput(), Encoding.UTF8);
        var frames = new VideoFrames();
        while (true)
        {
            string path, json;
            VideoDecoderBackend backend;
            try
            {
                path = input.ReadString();
                json = input.ReadString();
                backend = (VideoDecoderBackend)input.ReadByte();
            }
            catch (EndOfStreamException)
            {
                return 0;
            }
            try
            {
                var options = ModelZipFormat.FromJson<VideoDecodeOptions>(json);
                using (var decoder = VideoDecoder.Open(path, backend)) decoder.Decode(options, frames);
                output.Write(Decoded);
                output.Write(frames.FrameCount);
                output.Write(frames.Height);
                output.Write(frames.Width);
                output.Write(frames.FramesPerSecond);
                output.Write(frames.Bytes);
            }
            catch (VideoDecodeException e)
            {
                output.Write(Undecodable);
                output.Write(e.Problem);
            }
            catch (NativeDependencyException e)
            {
                output.Write(NativeMissing);
                output.Write(e.Message);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                output.Write(Failed);
                output.Write($"{e.GetType().Name}: {e.Message}");
            }
            output.Flush();
        }
    }
}
