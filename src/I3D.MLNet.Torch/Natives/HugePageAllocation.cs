using System.Runtime.InteropServices;

namespace I3D.MLNet.Torch.Natives;

/// <summary>
/// Asks libtorch's CPU allocator for transparent huge pages (<c>THP_MEM_ALLOC_ENABLE=1</c>, read by libc10 at its first
/// allocation). libtorch keeps no cache of CPU memory: every activation of a forward pass is fresh memory from the
/// kernel, faulted in 4 KiB at a time, and on the virtual machines measured here those page faults were most of the
/// time of a 64x224x224 I3D clip (float32 3.44 s with 4 KiB pages, 1.24 s with 2 MiB ones, on the same AMD EPYC Zen 5;
/// the concatenation of four Mixed_3b-sized maps 207 ms vs 38 ms; benchmarks/RESULTS.md). A value the process was
/// started with, 0 included, is kept; where the kernel gives no huge pages (<c>never</c> in
/// /sys/kernel/mm/transparent_hugepage/enabled) libtorch's madvise is refused and nothing changes. glibc is also asked
/// to keep freed blocks (<see cref="KeepFreedMemory"/>).
/// </summary>
internal static class HugePageAllocation
{
    /// <summary>libtorch's switch.</summary>
    public const string Variable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>Sets <see cref="Variable"/> in the native environment (where libc10 reads it) unless it is set; before
    /// libtorch loads (TorchNatives' module initializer), so its first allocation sees it.</summary>
    public static void Enable()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            NativeEnvironment.SetUnlessGiven(Variable, "1");
            KeepFreedMemory();
        }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    /// <summary>
    /// glibc hands a block above its mmap threshold (128 KiB, raised as blocks are freed) to the kernel when it is freed,
    /// so every training step faults its activations in again and the kernel zeroes each page first. With mmap off for
    /// allocations (the heap grows instead, and freed blocks are reused) and a 1 GiB trim threshold, a training step of
    /// RGB I3D on 8 clips of 16x112x112 went from 2.03 to 1.57 s (page faults 246 to 96 thousand per run, peak memory
    /// 1.6 to 2.0 GB; benchmarks/RESULTS.md, "Training step"). glibc still maps memory where its heap cannot grow.
    /// A malloc setting the process was started with (<c>GLIBC_TUNABLES</c>, <c>MALLOC_*_</c>) is kept.
    /// </summary>
    private static void KeepFreedMemory()
    {
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES")?.Contains("malloc", StringComparison.Ordinal) == true
            || Environment.GetEnvironmentVariables().Keys.Cast<string>().Any(k => k.StartsWith("MALLOC_", StringComparison.Ordinal) && k.EndsWith('_'))) return;
        _ = mallopt(MmapMax, 0);
        _ = mallopt(TrimThreshold, 1 << 30);
    }

    private const int TrimThreshold = -1, MmapMax = -4; // M_TRIM_THRESHOLD, M_MMAP_MAX (malloc.h)

    [DllImport("libc", ExactSpelling = true)]
    private static extern int mallopt(int param, int value);
}
