using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Hypervisors.Libvirt.Native;

/// <summary>Receives what libvirt reports on a session's event-loop callbacks.</summary>
internal interface ILibvirtEventSink
{
    /// <summary>A lifecycle event for the domain with <paramref name="domainId"/>.</summary>
    void OnLifecycleEvent(Guid domainId, int eventType, int detail);

    /// <summary>The connection closed (daemon gone, keepalive timeout, ...).</summary>
    void OnConnectionClosed(LibvirtSession session, int reason);
}

/// <summary>
/// One open libvirt connection and what belongs to it: the domain handles looked up on it, its close callback and
/// its lifecycle-event registration. When the connection is lost the driver drops the session and opens a new one.
/// Blocking: every member makes libvirt calls; run them off the caller's thread.
/// </summary>
internal sealed unsafe class LibvirtSession : IDisposable
{
    private readonly ConcurrentDictionary<Guid, SafeDomainHandle> _domains = new();
    private readonly Lock _gate = new();
    private GCHandle _self;
    private bool _closeCallbackRegistered;
    private int _lifecycleCallbackId = -1;
    private volatile bool _broken;
    private bool _disposed;

    private LibvirtSession(SafeConnectHandle connection, ILibvirtEventSink sink)
    {
        Connection = connection;
        Sink = sink;
    }

    /// <summary>The connection.</summary>
    public SafeConnectHandle Connection { get; }

    /// <summary>Where callbacks go.</summary>
    public ILibvirtEventSink Sink { get; }

    /// <summary>Whether the connection was reported closed or a call on it failed as a lost connection.</summary>
    public bool IsBroken => _broken || Connection.IsClosed;

    /// <summary>Opens <paramref name="uri"/> and registers the close callback.</summary>
    /// <exception cref="LibvirtCallException">The connection could not be opened.</exception>
    public static LibvirtSession Open(string uri, ILibvirtEventSink sink)
    {
        LibvirtEventLoop.EnsureStarted();
        var connection = LibvirtNative.ConnectOpen(uri);
        if (connection.IsInvalid)
        {
            var error = LibvirtError.Capture("virConnectOpen");
            connection.Dispose();
            throw new LibvirtCallException("virConnectOpen", error);
        }

        var session = new LibvirtSession(connection, sink);
        session._self = GCHandle.Alloc(session, GCHandleType.Normal);
        if (LibvirtNative.ConnectRegisterCloseCallback(connection, &OnClose, GCHandle.ToIntPtr(session._self), null) == 0)
        {
            session._closeCallbackRegistered = true;
        }
        else
        {
            LibvirtNative.ResetLastError();
        }

        return session;
    }

    /// <summary>Marks the session unusable, so the next call opens a new one.</summary>
    public void MarkBroken() => _broken = true;

    /// <summary>Whether the connection is still alive, by <c>virConnectIsAlive</c>.</summary>
    public bool IsAlive()
    {
        if (IsBroken)
        {
            return false;
        }

        try
        {
            var alive = LibvirtNative.ConnectIsAlive(Connection);
            LibvirtNative.ResetLastError();
            return alive == 1;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The handle of the domain with <paramref name="id"/>, looked up once per session.</summary>
    /// <exception cref="LibvirtCallException">The lookup failed (VIR_ERR_NO_DOMAIN when there is no such domain).</exception>
    public SafeDomainHandle Domain(Guid id) =>
        TryDomain(id, out var handle, out var error) ? handle : throw new LibvirtCallException("virDomainLookupByUUID", error!);

    /// <summary>
    /// Looks the domain up without throwing: false with libvirt's error (VIR_ERR_NO_DOMAIN for a missing domain),
    /// for paths where a missing domain is expected, such as the first step of a create.
    /// </summary>
    public bool TryDomain(Guid id, out SafeDomainHandle handle, out LibvirtError? error)
    {
        error = null;
        if (_domains.TryGetValue(id, out var cached) && !cached.IsClosed)
        {
            handle = cached;
            return true;
        }

        Span<byte> uuid = stackalloc byte[16];
        id.TryWriteBytes(uuid, bigEndian: true, out _);
        fixed (byte* p = uuid)
        {
            handle = LibvirtNative.DomainLookupByUuid(Connection, p);
        }

        if (handle.IsInvalid)
        {
            error = LibvirtError.Capture("virDomainLookupByUUID");
            handle.Dispose();
            return false;
        }

        handle = Remember(id, handle);
        return true;
    }

    /// <summary>Keeps <paramref name="handle"/> as the handle of <paramref name="id"/> (the first one wins a race).</summary>
    public SafeDomainHandle Remember(Guid id, SafeDomainHandle handle)
    {
        var kept = _domains.GetOrAdd(id, handle);
        if (!ReferenceEquals(kept, handle))
        {
            handle.Dispose();
        }

        return kept;
    }

    /// <summary>Drops and frees the handle of <paramref name="id"/> (the domain is gone).</summary>
    public void Forget(Guid id)
    {
        if (_domains.TryRemove(id, out var handle))
        {
            handle.Dispose();
        }
    }

    /// <summary>Registers the lifecycle callback on this connection, once.</summary>
    /// <exception cref="LibvirtCallException">libvirt refused the registration.</exception>
    public void EnsureLifecycleEvents()
    {
        lock (_gate)
        {
            if (_lifecycleCallbackId >= 0 || _disposed)
            {
                return;
            }

            // The registration owns its own handle to this session; libvirt frees it through FreeHandle once the
            // callback is removed and no dispatch is running, so the event loop never sees a freed handle.
            delegate* unmanaged[Cdecl]<IntPtr, IntPtr, int, int, IntPtr, int> callback = &OnLifecycle;
            var opaque = GCHandle.Alloc(this, GCHandleType.Normal);
            var id = LibvirtNative.ConnectDomainEventRegisterAny(
                Connection, IntPtr.Zero, VirConstants.EventIdLifecycle, (IntPtr)callback, GCHandle.ToIntPtr(opaque), &FreeHandle);
            if (id < 0)
            {
                var error = LibvirtError.Capture("virConnectDomainEventRegisterAny");
                opaque.Free();
                throw new LibvirtCallException("virConnectDomainEventRegisterAny", error);
            }

            _lifecycleCallbackId = id;
        }
    }

    /// <summary>Deregisters callbacks, frees the domain handles and closes the connection.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                if (_lifecycleCallbackId >= 0)
                {
                    LibvirtNative.ConnectDomainEventDeregisterAny(Connection, _lifecycleCallbackId);
                }

                if (_closeCallbackRegistered)
                {
                    LibvirtNative.ConnectUnregisterCloseCallback(Connection, &OnClose);
                }

                LibvirtNative.ResetLastError();
            }
            catch (ObjectDisposedException)
            {
                // Already closed.
            }

            foreach (var id in _domains.Keys)
            {
                Forget(id);
            }

            Connection.Dispose();

            // The close callback was registered without a free callback (drivers without close callbacks accept the
            // registration without keeping it, so a free callback might never run); once unregistered it is not
            // called again, so its handle can go.
            if (_self.IsAllocated)
            {
                _self.Free();
            }
        }
    }

    private static LibvirtSession? FromOpaque(IntPtr opaque) =>
        opaque == IntPtr.Zero ? null : GCHandle.FromIntPtr(opaque).Target as LibvirtSession;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void FreeHandle(IntPtr opaque)
    {
        if (opaque != IntPtr.Zero)
        {
            GCHandle.FromIntPtr(opaque).Free();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnClose(IntPtr conn, int reason, IntPtr opaque)
    {
        try
        {
            if (FromOpaque(opaque) is { } session)
            {
                session._broken = true;
                session.Sink.OnConnectionClosed(session, reason);
            }
        }
        catch (Exception)
        {
            // An exception must not unwind into libvirt's event loop.
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnLifecycle(IntPtr conn, IntPtr dom, int eventType, int detail, IntPtr opaque)
    {
        try
        {
            if (FromOpaque(opaque) is { } session)
            {
                Span<byte> uuid = stackalloc byte[16];
                fixed (byte* p = uuid)
                {
                    if (LibvirtNative.DomainGetUuid(dom, p) == 0)
                    {
                        session.Sink.OnLifecycleEvent(new Guid(uuid, bigEndian: true), eventType, detail);
                    }
                }
            }
        }
        catch (Exception)
        {
            // An exception must not unwind into libvirt's event loop.
        }

        return 0;
    }
}
