using I3D.MLNet.Torch.Tests.Hardening;
using TorchSharp;

namespace I3D.MLNet.Cli.Tests;

/// <summary>
/// The held-Scalar rule (I3D.MLNet.Torch's HeldScalars: a temporary Scalar may be freed by the finalizer while libtorch
/// reads it) over what the Torch tests' scan does not see: the command line and these tests.
/// </summary>
public sealed class HeldScalarRuleTests
{
    [Fact]
    public void NeitherTheCommandLineNorItsTestsHandLibtorchATemporaryScalar()
    {
        var scanner = new TemporaryScalarScanner(typeof(torch).Assembly.Location);
        string[] assemblies = [I3dProcess.Dll, typeof(HeldScalarRuleTests).Assembly.Location];
        Assert.All(assemblies, a => Assert.True(File.Exists(a), $"{a}: missing"));
        var offences = assemblies.SelectMany(a => scanner.Scan(a, _ => true).Select(o => $"{Path.GetFileName(a)}: {o}")).ToList();
        Assert.True(offences.Count == 0, $"{offences.Count} calls make a temporary Scalar (use HeldScalars):\n{string.Join("\n", offences)}");
    }
}
