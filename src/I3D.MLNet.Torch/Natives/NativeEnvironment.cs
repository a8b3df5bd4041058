using System.Runtime.InteropServices;

namespace I3D.MLNet.Torch.Natives;

/// <summary>The process environment as native code reads it (<c>getenv</c>): the managed
/// <c>Environment.SetEnvironmentVariable</c> does not reach it.</summary>
internal static class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> to <paramref name="value"/> unless the process has it (a value the user
    /// started the process with, empty included, is kept).</summary>
    public static void SetUnlessGiven(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is not null) return;
        try { _ = setenv(name, value, 0); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [DllImport("libc", CharSet = CharSet.Ansi, ExactSpelling = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
