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

    /// <summary>
    /// Runs <paramref name="action"/> on the event-loop thread once the loop has dispatched what is already due
    /// (such as domain events libvirt queued before this call: a timer registered earlier flushes them, and due timers
    /// fire in registration order), and waits for it: one loop iteration. False when it did not run within
    /// <paramref name="timeout"/>.
    /// </summary>
    /// <exception cref="LibvirtCallException">libvirt refused the timer.</exception>
    public static bool TryRunAfterPending<T>(Func<T> action, TimeSpan timeout, out T? result)
    {
        EnsureStarted();
        using var barrier = new Barrier<T>(action);
        var handle = GCHandle.Alloc(barrier, GCHandleType.Normal);
        if (LibvirtNative.EventAddTimeout(0, &OnBarrier, GCHandle.ToIntPtr(handle), &FreeBarrier) < 0)
        {
            var error = LibvirtError.Capture("virEventAddTimeout");
            handle.Free();
            throw new LibvirtCallException("virEventAddTimeout", error);
        }

        var ran = barrier.Done.Wait(timeout);
        result = barrier.Result;
        return ran;
    }

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

        // Started without the caller's execution context: the process-wide loop carries none of the first caller's
        // async-local state (a call counter, say) into every later callback.
        var thread = new Thread(Run) { IsBackground = true, Name = "libvirt event loop" };
        thread.UnsafeStart();
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
    private static void OnBarrier(int timer, IntPtr opaque)
    {
        // One shot: removing the timer makes libvirt call FreeBarrier, which releases the handle.
        LibvirtNative.EventRemoveTimeout(timer);
        try
        {
            if (GCHandle.FromIntPtr(opaque).Target is IBarrier barrier)
            {
                barrier.Run();
            }
        }
        catch (Exception)
        {
            // An exception must not unwind into libvirt's event loop; the waiter times out instead.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void FreeBarrier(IntPtr opaque)
    {
        if (opaque != IntPtr.Zero)
        {
            GCHandle.FromIntPtr(opaque).Free();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreError(IntPtr userData, VirError* error)
    {
    }

    private interface IBarrier
    {
        void Run();
    }

    private sealed class Barrier<T>(Func<T> action) : IBarrier, IDisposable
    {
        public ManualResetEventSlim Done { get; } = new();

        public T? Result { get; private set; }

        public void Run()
        {
            try
            {
                Result = action();
            }
            finally
            {
                // The waiter may have timed out and disposed the event already.
                try
                {
                    Done.Set();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        public void Dispose() => Done.Dispose();
    }
}
