using System.Runtime.Intrinsics.X86;

namespace I3D.MLNet.Torch.Natives;

/// <summary>
/// Asks libtorch for its AVX-512 kernels (<c>ATEN_CPU_CAPABILITY=avx512</c>, read once at its first dispatch) on a CPU
/// that has AVX-512 F, BW, DQ and VL, the set libtorch's own check asks for. On the AMD EPYC Zen 5 machines measured
/// here libtorch 2.10 did not pick them by itself, although the CPU has AVX-512 and oneDNN's convolutions use it: with
/// the variable set, a training step of RGB I3D on 8 clips of 16x112x112 went from 1.37 to 1.27 s in float32 and from
/// 0.94 to 0.80 s in mixed precision (benchmarks/RESULTS.md, "libtorch's AVX-512 kernels"). Only the kernels libtorch
/// builds an AVX-512 version of change; most element-wise ones run their AVX2 code either way. A value the process was
/// started with is kept, and a CPU without these instructions gets libtorch's own choice.
/// </summary>
internal static class AtenCpuCapability
{
    /// <summary>libtorch's switch.</summary>
    public const string Variable = "ATEN_CPU_CAPABILITY";

    /// <summary>Before libtorch loads (TorchNatives' module initializer).</summary>
    public static void Select()
    {
        if (Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported && Fma.IsSupported)
            NativeEnvironment.SetUnlessGiven(Variable, "avx512");
    }
}
