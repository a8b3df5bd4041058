using System.Runtime.InteropServices;

namespace I3D.MLNet.Torch.Natives;

/// <summary>
/// Asks libtorch's CPU allocator for transparent huge pages (<c>THP_MEM_ALLOC_ENABLE=1</c>, read by libc10 at its first
/// allocation). libtorch keeps no cache of CPU memory: every activation of a forward pass is fresh memory from the
/// kernel, faulted in 4 KiB at a time, and on the virtual machines measured here those page faults were most of the
/// time of a 64x224x224 I3D clip (float32 3.44 s with 4 KiB pages, 1.24 s with 2 MiB ones, on the same AMD EPYC Zen 5;
/// the concatenation of four Mixed_3b-sized maps 207 ms vs 38 ms; benchmarks/RESULTS.md). A value the process was
/// started with, 0 included, is kept; where the kernel gives no huge pages (<c>never</c> in
/// /sys/kernel/mm/transparent_hugepage/enabled) libtorch's madvise is refused and nothing changes.
/// </summary>
internal static class HugePageAllocation
{
    /// <summary>libtorch's switch.</summary>
    public const string Variable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>Sets <see cref="Variable"/> in the native environment (where libc10 reads it) unless it is set; before
    /// libtorch loads (TorchNatives' module initializer), so its first allocation sees it.</summary>
    public static void Enable()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is not null) return;
        try { _ = setenv(Variable, "1", 0); } // the managed Environment.SetEnvironmentVariable does not reach getenv
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [DllImport("libc", CharSet = CharSet.Ansi, ExactSpelling = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
