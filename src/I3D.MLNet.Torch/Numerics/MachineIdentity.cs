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
    private static readonly Lazy<(string Cpu, string Flags)> CpuInfo = new(ReadCpu);

    /// <summary>For people: <c>AMD EPYC (AuthenticAMD family 26 model 2 stepping 1)</c>.</summary>
    public static string Cpu => CpuInfo.Value.Cpu;

    public static string Libtorch => TorchSharp.torch.__version__;

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

    private static (string Cpu, string Flags) ReadCpu()
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
                return ($"{Field("model name")} ({Field("vendor_id")} family {Field("cpu family")} model {Field("model")} stepping {Field("stepping")})", hash);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return ($"{RuntimeInformation.ProcessArchitecture} ({RuntimeInformation.OSDescription})", "?");
    }
}
