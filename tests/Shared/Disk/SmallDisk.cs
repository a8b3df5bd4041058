using System.Diagnostics;
using I3D.MLNet.IO;

namespace I3D.MLNet.Testing;

/// <summary>
/// A small file system for the full-disk tests: a tmpfs of the given size mounted on a fresh folder where that is
/// allowed (root, or CAP_SYS_ADMIN), else the same folder on the ordinary disk with a simulated full disk
/// (<see cref="AtomicFile.SimulatedFreeBytes"/>: every file the product writes goes through it). <see cref="Fill"/>
/// takes the space away, <see cref="Free"/> gives it back; <see cref="Dispose"/> unmounts and deletes the folder.
/// Set <c>I3D_FULL_DISK=simulate</c> to force the simulation.
/// </summary>
/// <remarks>Lives in tests/Shared/Disk (not tests/Shared, which every test project compiles): it needs the internals of
/// I3D.MLNet, which only the projects that link it see.</remarks>
internal sealed class SmallDisk : IDisposable
{
    private SmallDisk(string root, bool mounted, string how)
    {
        Root = root;
        Mounted = mounted;
        How = how;
    }

    /// <summary>The folder on the small file system.</summary>
    public string Root { get; }

    /// <summary>True on a real tmpfs; false where the full disk is simulated.</summary>
    public bool Mounted { get; }

    /// <summary>What this is, for the test output: the tmpfs and its size, or why the disk is simulated.</summary>
    public string How { get; }

    private string Filler => Path.Combine(Root, "filler.bin");

    /// <summary>A fresh folder of <paramref name="bytes"/> bytes (rounded up to pages by tmpfs).</summary>
    public static SmallDisk Create(string name, long bytes)
    {
        string root = Path.Combine(Path.GetTempPath(), "i3d-full-disk", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        if (Environment.GetEnvironmentVariable("I3D_FULL_DISK") == "simulate")
            return new SmallDisk(root, false, "simulated full disk (I3D_FULL_DISK=simulate)");
        var (code, error) = Command("mount", "-t", "tmpfs", "-o", $"size={bytes},mode=0700", "tmpfs", root);
        return code == 0
            ? new SmallDisk(root, true, $"tmpfs of {bytes / 1024} KiB on {root}")
            : new SmallDisk(root, false, $"simulated full disk (mounting a tmpfs failed: {error})");
    }

    /// <summary>Skips the calling test where the disk is simulated (a child process does not see the simulation).</summary>
    public void RequireMounted() => Skip.IfNot(Mounted, $"needs a real small file system for a child process: {How}");

    /// <summary>Fills the file system so that at most <paramref name="leaveFree"/> bytes stay free.</summary>
    public void Fill(long leaveFree = 0)
    {
        if (!Mounted)
        {
            AtomicFile.SimulatedFreeBytes.Value = leaveFree;
            return;
        }
        var chunk = new byte[1 << 20];
        using var filler = new FileStream(Filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 1);
        try
        {
            for (long free; (free = new DriveInfo(Root).AvailableFreeSpace) > leaveFree;)
            {
                filler.Write(chunk, 0, (int)Math.Min(chunk.Length, Math.Max(4096, free - leaveFree)));
                filler.Flush();
            }
        }
        catch (IOException e) when (AtomicFile.IsDiskFull(e))
        {
            // Full to the last page.
        }
    }

    /// <summary>Gives the space back (deletes the filler, ends the simulation).</summary>
    public void Free()
    {
        AtomicFile.SimulatedFreeBytes.Value = null;
        if (File.Exists(Filler)) File.Delete(Filler);
    }

    /// <summary>The files under <see cref="Root"/> whose names say they are temporary (none may be left behind).</summary>
    public string[] TemporaryFiles() => Directory.GetFiles(Root, "*.tmp*", SearchOption.AllDirectories);

    public void Dispose()
    {
        Free();
        if (Mounted) Command("umount", "--lazy", Root); // lazy: a file a failed test left open must not keep it mounted
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Still busy (a file open in a failed test): the next temp cleanup removes it.
        }
    }

    private static (int Code, string Error) Command(string file, params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) info.ArgumentList.Add(a);
            using var process = Process.Start(info)!;
            string error = process.StandardError.ReadToEnd();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error.Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
