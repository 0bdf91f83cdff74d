using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Hypervisors.Libvirt.Native;

/// <summary>
/// libvirt's default event loop, registered once per process and run on one dedicated background thread.
/// </summary>
/// <remarks>
/// This is process-wide by necessity: <c>virEventRegisterDefaultImpl</c> installs a global implementation
/// that must be in place before the first connection is opened (remote connections use it for keepalive, the close
/// callback and events), and libvirt offers no way to remove it. The same first call also replaces libvirt's
/// default error handler, which would otherwise print every error (a lookup miss included) to stderr;
/// errors are still read per thread with <c>virGetLastError</c>.
/// </remarks>
internal static unsafe class LibvirtEventLoop
{
    private static readonly Lazy<Thread> Loop = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the event implementation and starts its thread, once.</summary>
    /// <exception cref="LibvirtCallException">libvirt refused the registration.</exception>
    public static void EnsureStarted() => _ = Loop.Value;

    private static Thread Start()
    {
        LibvirtNative.EnsureLoaded();
        if (LibvirtNative.Initialize() < 0)
        {
            throw new LibvirtCallException("virInitialize", LibvirtError.Capture("virInitialize"));
        }

        LibvirtNative.SetErrorFunc(IntPtr.Zero, &IgnoreError);
        if (LibvirtNative.EventRegisterDefaultImpl() < 0)
        {
            throw new LibvirtCallException("virEventRegisterDefaultImpl", LibvirtError.Capture("virEventRegisterDefaultImpl"));
        }

        var thread = new Thread(Run) { IsBackground = true, Name = "libvirt event loop" };
        thread.Start();
        return thread;
    }

    private static void Run()
    {
        while (true)
        {
            if (LibvirtNative.EventRunDefaultImpl() < 0)
            {
                // Only fails on a broken poll(); back off rather than spin.
                LibvirtNative.ResetLastError();
                Thread.Sleep(100);
            }
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreError(IntPtr userData, VirError* error)
    {
    }
}
