using System.Globalization;
using System.Text;

namespace I3D.MLNet.IO;

/// <summary>
/// The one way files are written (checkpoints, cache entries, model zips, weight files, extraction outputs): into a
/// temporary file in the target's folder (<c>TARGET.PID.GUID.tmp</c>), flushed to disk, then renamed over the target
/// (atomic on POSIX file systems). On any failure the temporary file is deleted and the target is left as it was, so a
/// full disk or a killed process never leaves a half-written file under the target's name.
/// </summary>
/// <remarks>
/// Input/output failures come out as one <see cref="IOException"/> whose message names the target, says when the disk
/// is full (ENOSPC or EDQUOT, which .NET carries in <see cref="Exception.HResult"/> on Linux, or no free bytes left) and
/// how many bytes were to be written and were free, and whose inner exception is the original one. Other exceptions
/// (a bug in the caller's writer, a cancellation) pass through unchanged, after the same clean-up.
/// </remarks>
internal static class AtomicFile
{
    // errno values (Linux) and HRESULTs (Windows) of a full disk or an exhausted quota.
    private const int Enospc = 28, Edquot = 122;
    private const int ErrorHandleDiskFull = unchecked((int)0x80070027), ErrorDiskFull = unchecked((int)0x80070070);

    /// <summary>
    /// For tests where no small file system can be mounted: while set, every write through this class fails as on a
    /// full disk with this many bytes free once the file would be larger (checked after the writer ran). Flows with the
    /// execution context, so it affects only the code that set it and what that code starts.
    /// </summary>
    internal static readonly AsyncLocal<long?> SimulatedFreeBytes = new();

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, which gets the temporary file's stream
    /// (seekable, readable); <paramref name="length"/>, when known, is quoted in the error.</summary>
    public static void Write(string path, Action<Stream> write, long? length = null)
    {
        ArgumentNullException.ThrowIfNull(write);
        Commit(path, temporary =>
        {
            using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            write(stream);
            stream.Flush(flushToDisk: true);
        }, TemporaryName(path, ""), length);
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes), bytes.Length);
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> as UTF-8 without a byte order mark (what
    /// <see cref="File.WriteAllText(string, string)"/> writes).</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>
    /// For writers that want a file name rather than a stream (OpenCV's <c>VideoWriter</c> picks the container by the
    /// extension): <paramref name="write"/> writes the temporary file it is given, which ends in the target's extension;
    /// it is then flushed to disk and renamed over <paramref name="path"/>.
    /// </summary>
    public static void WriteThrough(string path, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Commit(path, temporary =>
        {
            write(temporary);
            if (!File.Exists(temporary)) throw new IOException($"{path}: the writer wrote nothing");
            using var written = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            written.Flush(flushToDisk: true);
        }, TemporaryName(path, Path.GetExtension(path)), null);
    }

    /// <summary>Whether <paramref name="error"/> (or an exception inside it) is a full disk or an exhausted quota.</summary>
    public static bool IsDiskFull(Exception? error)
    {
        for (var e = error; e != null; e = e.InnerException)
            if (e is IOException && e.HResult is Enospc or Edquot or ErrorDiskFull or ErrorHandleDiskFull) return true;
        return false;
    }

    private static string TemporaryName(string path, string extension)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return string.Create(CultureInfo.InvariantCulture, $"{Path.GetFullPath(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp{extension}");
    }

    private static void Commit(string path, Action<string> writeTemporary, string temporary, long? length)
    {
        string target = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(target)!;
        long written = 0;
        try
        {
            Directory.CreateDirectory(folder);
            writeTemporary(temporary);
            written = new FileInfo(temporary).Length;
            if (SimulatedFreeBytes.Value is { } free && written > free)
                throw new IOException($"No space left on device : '{temporary}' (simulated)", Enospc);
            File.Move(temporary, target, overwrite: true);
        }
        catch (Exception e)
        {
            if (written == 0) written = LengthOf(temporary);
            Delete(temporary);
            if (!IsInputOutput(e)) throw;
            throw Failure(path, folder, e, length, written);
        }
    }

    private static bool IsInputOutput(Exception? e)
    {
        for (; e != null; e = e.InnerException)
            if (e is IOException or UnauthorizedAccessException) return true;
        return false;
    }

    private static IOException Failure(string path, string folder, Exception error, long? length, long written)
    {
        long? free = SimulatedFreeBytes.Value ?? FreeBytes(folder);
        // Without an errno that says so (ML.NET or a writer may wrap it), no free bytes left, or fewer than the file needs, say it.
        bool full = IsDiskFull(error) || error is not UnauthorizedAccessException && (free == 0 || length > free);
        var why = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        if (full)
        {
            why.Append("the disk is full (");
            why.Append(length is { } l ? string.Create(culture, $"{l:N0} bytes to write") : string.Create(culture, $"failed after {written:N0} bytes"));
            if (free is { } f) why.Append(culture, $", {f:N0} bytes free in {folder}");
            // The errno says no more than "no space left" (it is in the inner exception); another error is the evidence.
            if (!IsDiskFull(error)) why.Append("; ").Append(error.Message);
            why.Append(')');
        }
        else
        {
            why.Append(error.Message);
        }
        string message = $"{path}: not written: {why}. The previous file (if there was one) is unchanged{(full ? "; free some space and run again" : "")}";
        return new IOException(message, error) { HResult = full ? Enospc : error.HResult };
    }

    private static long? FreeBytes(string folder)
    {
        try
        {
            return new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static long LengthOf(string file)
    {
        try
        {
            return File.Exists(file) ? new FileInfo(file).Length : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static void Delete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind (its name ends in .tmp); the target is unchanged either way.
        }
    }
}
