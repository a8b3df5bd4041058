using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace I3D.MLNet.Torch.Numerics;

/// <summary>
/// What a convolution verdict depends on besides the shape: the CPU (model and instruction set), the libtorch and
/// TorchSharp builds and the oneDNN settings of the environment. Read once per process.
/// </summary>
internal static class MachineIdentity
{
    private static readonly Lazy<(string Cpu, string Flags, string[]? FlagWords)> CpuInfo = new(ReadCpu);

    /// <summary>For people: <c>AMD EPYC (AuthenticAMD family 26 model 2 stepping 1)</c>.</summary>
    public static string Cpu => CpuInfo.Value.Cpu;

    public static string Libtorch => TorchSharp.torch.__version__;

    /// <summary>Whether the CPU computes bfloat16 products in hardware (AVX-512 BF16 or AMX-BF16, per /proc/cpuinfo);
    /// null where that is not known. Without them oneDNN emulates bfloat16 convolutions.</summary>
    public static bool? HasBFloat16Arithmetic => CpuInfo.Value.FlagWords is { } words ? BFloat16Arithmetic(words) : null;

    /// <summary>Whether the CPU has AMX bfloat16 tiles (<c>amx_bf16</c> in /proc/cpuinfo); false where that is not known.</summary>
    public static bool HasAmx => CpuInfo.Value.FlagWords?.Contains("amx_bf16") == true;

    /// <summary>Whether CPU flags (the words of /proc/cpuinfo's <c>flags</c> line) include bfloat16 arithmetic.</summary>
    internal static bool BFloat16Arithmetic(IReadOnlyCollection<string> flags) => flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");

    /// <summary>Everything above in one line; the probe cache belongs to exactly this.</summary>
    public static string Key
    {
        get
        {
            string torchSharp = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?";
            var onednn = Environment.GetEnvironmentVariables().Keys.Cast<string>()
                .Where(k => k.StartsWith("ONEDNN_", StringComparison.Ordinal) || k.StartsWith("DNNL_", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}");
            return $"cpu={Cpu}; flags={CpuInfo.Value.Flags}; arch={RuntimeInformation.ProcessArchitecture}; libtorch={Libtorch}; torchsharp={torchSharp}; env={string.Join(",", onednn)}";
        }
    }

    private static (string Cpu, string Flags, string[]? FlagWords) ReadCpu()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                var fields = new Dictionary<string, string>();
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.Length == 0) break; // the first processor is enough
                    int colon = line.IndexOf(':');
                    if (colon > 0) fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
                }
                string Field(string name) => fields.TryGetValue(name, out var v) ? v : "?";
                string flags = Field("flags") == "?" ? Field("Features") : Field("flags");
                string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(flags)))[..16].ToLowerInvariant();
                string[]? words = Field("flags") == "?" ? null : flags.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return ($"{Field("model name")} ({Field("vendor_id")} family {Field("cpu family")} model {Field("model")} stepping {Field("stepping")})", hash, words);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return ($"{RuntimeInformation.ProcessArchitecture} ({RuntimeInformation.OSDescription})", "?", null);
    }
}
