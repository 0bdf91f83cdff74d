using System.Runtime.InteropServices;

namespace Hypervisors.Uml;

/// <summary>The few libc calls the driver needs that .NET does not expose.</summary>
internal static partial class NativeMethods
{
    public const int SigKill = 9;

    /// <summary>kill(2): a negative <paramref name="pid"/> signals the process group.</summary>
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>geteuid(2).</summary>
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();
}
