using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Hypervisors.Libvirt.Mapping;
using Hypervisors.Libvirt.Native;
using Hypervisors.Libvirt.Storage;
using Hypervisors.Libvirt.Xml;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Libvirt;

/// <summary>
/// The libvirt driver: KVM/QEMU hosts (and libvirt's in-memory test driver) through the system's libvirt.so.0.
/// Instance ids are domain UUIDs; the spec each instance was created from lives in the domain's
/// <c>&lt;metadata&gt;</c>. Lifecycle follows Nova's libvirt driver: graceful stop is an ACPI shutdown with a
/// timeout then a destroy, pause is <c>virDomainSuspend</c>, suspend is a managed save.
/// </summary>
/// <remarks>
/// libvirt calls block (a remote call waits on the daemon), so each runs on a thread-pool thread and the caller's
/// thread only awaits; calls into the in-process test driver, which never waits, run on the caller's thread (see
/// <see cref="LibvirtDriverOptions.RunCallsOnCallerThread"/>). One connection is
/// shared by all calls; when it is lost (daemon restart, keepalive timeout) the failing call throws
/// <see cref="HypervisorUnavailableException"/> and the next call opens a new connection.
/// </remarks>
public sealed partial class LibvirtDriver : HypervisorDriverBase, ILibvirtEventSink
{
    private static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

    private readonly LibvirtDriverOptions _options;
    private readonly LibvirtUriProfile _profile;
    private readonly DomainShape _shape;
    private readonly QemuImg _qemuImg;
    private readonly InstanceEventHub _events = new();
    private readonly ConcurrentDictionary<Guid, InstanceRecord?> _records = new();
    private readonly KeyedAsyncLock<Guid> _instanceLocks = new();
    private readonly InstanceStateTracker _states = new();
    private readonly ILogger _logger;
    private readonly Lock _sessionGate = new();
    private readonly Lock _publishGate = new();
    private readonly CancellationTokenSource _disposing = new();
    private LibvirtSession? _session;
    private volatile bool _eventsWanted;
    private ReconnectingLoop? _eventLoop;
    private TaskCompletionSource _connectionLost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _published;
    private readonly bool _callsOnCallerThread;

    /// <summary>Creates a driver for <see cref="LibvirtDriverOptions.Uri"/>; the connection opens on the first call.</summary>
    /// <exception cref="ArgumentException">The URI is not a qemu: or test: libvirt URI.</exception>
    public LibvirtDriver(LibvirtDriverOptions options, TimeProvider? timeProvider = null, ILogger<LibvirtDriver>? logger = null)
        : base(timeProvider, new HostPathPolicy(options?.AllowedHostDirectories ?? []))
    {
        _logger = logger ?? NullLogger<LibvirtDriver>.Instance;
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Uri);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ConsoleTailBytes, 1);
        _options = options;
        _profile = LibvirtUriProfile.From(options.Uri, options.IsLocalHost);
        _shape = new DomainShape(options.DomainType ?? (_profile.IsTestDriver ? "test" : "kvm"), options.Architecture, options.MachineType);
        _qemuImg = new QemuImg(options.QemuImgPath);
        _callsOnCallerThread = options.RunCallsOnCallerThread ?? _profile.IsTestDriver;
        Capabilities = _profile.Capabilities;
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities { get; }

    /// <inheritdoc />
    protected override TimeSpan ShutdownPollInterval => _options.ShutdownPollInterval;

    /// <summary>Whether libvirt.so.0 can be loaded on this machine.</summary>
    public static bool IsLibvirtAvailable() => LibvirtNative.IsAvailable();

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType == typeof(LibvirtDriverOptions))
        {
            return _options;
        }

        return base.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        await _disposing.CancelAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _eventLoop) is { } loop)
        {
            await loop.DisposeAsync().ConfigureAwait(false);
        }

        _events.Dispose();
        lock (_sessionGate)
        {
            _session?.Dispose();
            _session = null;
        }

        _disposing.Dispose();
    }

    // ---- the session and the one path every libvirt call takes ----

    /// <summary>The open session, opening one if there is none or the last one was lost. Blocking.</summary>
    private LibvirtSession Session()
    {
        var session = _session;
        if (session is not null && !session.IsBroken)
        {
            return session;
        }

        lock (_sessionGate)
        {
            ThrowIfDisposed();
            session = _session;
            if (session is not null && !session.IsBroken)
            {
                return session;
            }

            _session = null;
            session?.Dispose();
            var fresh = LibvirtSession.Open(_options.Uri, this);
            LogConnected(_logger, _options.Uri, session is not null);
            try
            {
                if (_eventsWanted)
                {
                    fresh.EnsureLifecycleEvents();
                }
            }
            catch
            {
                fresh.Dispose();
                throw;
            }

            _session = fresh;
            return fresh;
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> with the session on a thread-pool thread (or inline, see the options). A failure
    /// leaves as a <see cref="LibvirtCallException"/> carrying what the connection told about it; <see cref="MapException"/>
    /// turns it into the contract's error.
    /// </summary>
    private Task<T> NativeAsync<T>(InstanceOperation operation, Guid? instanceId, Func<LibvirtSession, T> call, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!_callsOnCallerThread)
        {
            return Task.Run(() => Invoke(operation, instanceId, call), cancellationToken);
        }

        try
        {
            return Task.FromResult(Invoke(operation, instanceId, call));
        }
        catch (Exception ex)
        {
            return Task.FromException<T>(ex);
        }
    }

    private Task NativeActionAsync(InstanceOperation operation, Guid instanceId, Action<LibvirtSession> call, CancellationToken cancellationToken) =>
        NativeAsync(operation, instanceId, session =>
        {
            call(session);
            return true;
        }, cancellationToken);

    private T Invoke<T>(InstanceOperation operation, Guid? instanceId, Func<LibvirtSession, T> call)
    {
        LibvirtSession? session = null;
        try
        {
            session = Session();
            return call(session);
        }
        catch (LibvirtCallException ex)
        {
            Learn(ex, session, operation, instanceId);
            throw;
        }
        catch (ObjectDisposedException ex) when (!IsDisposed)
        {
            // A handle was closed under the call: the session was dropped, or the domain deleted meanwhile.
            var lost = session is null || session.IsBroken || instanceId is null;
            throw new LibvirtCallException("a libvirt handle", new LibvirtError(0, 0, lost ? "the connection was closed during the call" : "the domain was removed during the call"), ex)
            {
                Kind = lost ? HypervisorErrorKind.Unavailable : HypervisorErrorKind.NotFound,
            };
        }
    }

    /// <summary>
    /// The driver's one mapping place: a <see cref="LibvirtCallException"/> becomes the contract's error through
    /// <see cref="LibvirtErrorMap"/>, with the kind and state the native-call path learned; the base class stamps
    /// the operation and instance.
    /// </summary>
    protected override Exception MapException(Exception exception, OperationContext context)
    {
        if (exception is not LibvirtCallException failure)
        {
            return exception;
        }

        var kind = failure.Kind ?? LibvirtErrorMap.KindOf(failure.Error, connectionAlive: true);
        (string Kind, string Id)? device = context is { DeviceKind: { } deviceKind, DeviceId: { } deviceId } ? (deviceKind, deviceId) : null;
        return LibvirtErrorMap.ToException(kind, failure, _profile.HypervisorType, context.Operation, context.InstanceId, failure.ObservedState, device);
    }

    /// <summary>
    /// What a failure says about the connection and the instance, learned on the calling thread with the session: a
    /// lost connection is marked broken, a gone domain forgotten, and a refused power operation's state read again.
    /// </summary>
    private void Learn(LibvirtCallException failure, LibvirtSession? session, InstanceOperation operation, Guid? instanceId)
    {
        var alive = session?.IsAlive() ?? false;
        var kind = LibvirtErrorMap.KindOf(failure.Error, alive);
        PowerState? state = null;
        if (kind == HypervisorErrorKind.Unavailable)
        {
            session?.MarkBroken();
            LogConnectionLost(_logger, _options.Uri, operation, failure.Error.Message);
        }
        else if (kind == HypervisorErrorKind.NotFound && instanceId is { } gone)
        {
            session?.Forget(gone);
            _records.TryRemove(gone, out _);
        }
        else if (instanceId is { } id && session is not null && (kind == HypervisorErrorKind.InvalidPowerState || IsPowerOperation(operation)))
        {
            // Re-read the state: drivers disagree on the code for "wrong state" (the test driver says INTERNAL_ERROR
            // where QEMU says OPERATION_INVALID), so a power operation that failed from a state the contract does not
            // allow it in is reported as exactly that.
            state = TryReadPowerState(session, id);
            if (IsPowerOperation(operation) && !PowerStateRules.IsAllowed(operation, state.Value))
            {
                kind = HypervisorErrorKind.InvalidPowerState;
            }
        }

        failure.Kind = kind;
        failure.ObservedState = state;
    }

    private static bool IsPowerOperation(InstanceOperation operation) => operation is InstanceOperation.Start or InstanceOperation.Stop
        or InstanceOperation.PowerOff or InstanceOperation.SoftReboot or InstanceOperation.HardReboot or InstanceOperation.Pause
        or InstanceOperation.Unpause or InstanceOperation.Suspend or InstanceOperation.Resume;

    private static PowerState TryReadPowerState(LibvirtSession session, Guid id)
    {
        try
        {
            return ReadState(session.Domain(id)).Power;
        }
        catch (LibvirtCallException)
        {
            return PowerState.NoState;
        }
    }

    // ---- small blocking helpers, run inside Invoke ----

    private static void Check(int result, string call)
    {
        if (result < 0)
        {
            throw new LibvirtCallException(call, LibvirtError.Capture(call));
        }
    }

    private static (VirDomainInfo Info, PowerState Power) ReadState(SafeDomainHandle domain)
    {
        Check(LibvirtNative.DomainGetInfo(domain, out var info), "virDomainGetInfo");
        var managedSave = false;
        if (info.State == VirConstants.DomainShutoff)
        {
            var has = LibvirtNative.DomainHasManagedSaveImage(domain, 0);
            Check(has, "virDomainHasManagedSaveImage");
            managedSave = has == 1;
        }

        return (info, DomainStateMap.ToPowerState(info.State, managedSave));
    }

    private static PowerState EnsureState(SafeDomainHandle domain, Guid id, InstanceOperation operation)
    {
        var state = ReadState(domain).Power;
        PowerStateRules.EnsureAllowed(operation, id, state);
        return state;
    }

    private static bool HasManagedSave(SafeDomainHandle domain)
    {
        var has = LibvirtNative.DomainHasManagedSaveImage(domain, 0);
        Check(has, "virDomainHasManagedSaveImage");
        return has == 1;
    }

    /// <summary>The record of <paramref name="id"/> from the cache, else from the domain's metadata; null for a domain this driver did not create.</summary>
    private InstanceRecord? Record(Guid id, IntPtr domain)
    {
        if (_records.TryGetValue(id, out var cached))
        {
            return cached;
        }

        var xml = LibvirtNative.DomainGetMetadata(domain, VirConstants.MetadataElement, InstanceMetadataXml.NamespaceUri, 0);
        InstanceRecord? record = null;
        if (xml == IntPtr.Zero)
        {
            var error = LibvirtError.Capture("virDomainGetMetadata");
            if (error.Code != LibvirtErrorMap.NoDomainMetadata)
            {
                throw new LibvirtCallException("virDomainGetMetadata", error);
            }
        }
        else
        {
            try
            {
                record = InstanceMetadataXml.Parse(id, LibvirtNative.TakeString(xml)!);
            }
            catch (FormatException)
            {
                // Someone else's element in our namespace: treat the domain as not ours.
            }
        }

        return _records.GetOrAdd(id, record);
    }

    private InstanceRecord? Record(Guid id, SafeDomainHandle domain)
    {
        var added = false;
        domain.DangerousAddRef(ref added);
        try
        {
            return Record(id, domain.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                domain.DangerousRelease();
            }
        }
    }

    private InstanceRecord RequireRecord(Guid id, SafeDomainHandle domain, InstanceOperation operation) =>
        Record(id, domain) ?? throw new OperationNotSupportedException(_profile.HypervisorType, operation, $"domain {id} was not created by this driver, so it has no instance record.");

    private static InstanceInfo ToInfo(Guid id, string name, in VirDomainInfo info, PowerState state, InstanceRecord? record) =>
        new(id, name, state, info.NrVirtCpu, (long)(info.MaxMemKiB / 1024), state is PowerState.Running or PowerState.Paused ? TimeSpan.FromTicks((long)(info.CpuTimeNs / 100)) : TimeSpan.Zero)
        {
            NativeId = record?.NativeId ?? id.ToString("D"),
            Metadata = record?.Spec.Metadata ?? NoMetadata,
        };

    // ---- events ----

    /// <inheritdoc />
    /// <remarks>
    /// libvirt calls back on its event loop for every domain lifecycle change. A lost connection (a daemon restart, a
    /// keepalive timeout) is noticed by libvirt's close callback; the SDK's <see cref="ReconnectingLoop"/> then opens
    /// a new connection, registers the callback again and publishes what changed meanwhile, as the contract states.
    /// </remarks>
    protected override IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken)
    {
        _eventsWanted = true;

        // One blocking call on the first subscription of a connection: libvirt must have the callback before
        // this method returns, or events of operations the caller starts next could be missed.
        Invoke(InstanceOperation.WatchEvents, null, session =>
        {
            session.EnsureLifecycleEvents();
            return true;
        });
        StartEventLoop();
        IAsyncEnumerable<InstanceEvent> stream;
        long publishedAtSubscribe;
        lock (_publishGate)
        {
            stream = _events.SubscribeAsync(cancellationToken);
            publishedAtSubscribe = _published;
        }

        // libvirt delivers events from its loop a moment after the operation, so events of operations that finished
        // before this call may still be queued. The loop flushes them before it runs the barrier; the count read
        // there tells how many of the first events this subscriber gets are from before the call. Waiting for it
        // (one loop iteration) keeps the caller's next operations from racing the barrier.
        var before = LibvirtEventLoop.TryRunAfterPending(() => Interlocked.Read(ref _published), TimeSpan.FromSeconds(5), out var publishedBeforeCall)
            ? publishedBeforeCall - publishedAtSubscribe
            : 0;
        return SkipEarlierAsync(stream, before, cancellationToken);
    }

    private static async IAsyncEnumerable<InstanceEvent> SkipEarlierAsync(IAsyncEnumerable<InstanceEvent> stream, long skip, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var instanceEvent in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (skip > 0)
            {
                skip--;
                continue;
            }

            yield return instanceEvent;
        }
    }

    private void StartEventLoop()
    {
        if (Volatile.Read(ref _eventLoop) is not null)
        {
            return;
        }

        var loop = new ReconnectingLoop($"libvirt lifecycle events at {_options.Uri}", ConnectEventsAsync, WaitForConnectionLossAsync, timeProvider: TimeProvider, logger: _logger);
        if (Interlocked.CompareExchange(ref _eventLoop, loop, null) is null)
        {
            loop.Start();
        }
    }

    /// <summary>
    /// Registers the lifecycle callback on the current (or a new) connection and reads every domain's state: the
    /// state the watch starts from, or after a loss (<paramref name="afterLoss"/>) the differences to publish.
    /// </summary>
    private async Task ConnectEventsAsync(bool afterLoss, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _connectionLost, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        IReadOnlyList<InstanceInfo> listed;
        // Events libvirt delivers while the list is read are newer than the list (see the tracker's Mark).
        var listedAfter = _states.Mark();
        try
        {
            listed = await NativeAsync(InstanceOperation.WatchEvents, null, session =>
            {
                session.EnsureLifecycleEvents();
                return ListAll(session);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (LibvirtCallException ex)
        {
            // Not a contract call, so the base class does not map it: map it here for the loop's log.
            throw MapException(ex, new OperationContext(InstanceOperation.WatchEvents, null));
        }
        lock (_publishGate)
        {
            foreach (var change in _states.Reconcile(listed.Select(i => KeyValuePair.Create(i.Id, i.PowerState)), TimeProvider.GetUtcNow(), afterLoss, listedAfter))
            {
                if (change.Kind == InstanceEventKind.Deleted)
                {
                    _records.TryRemove(change.InstanceId, out _);
                }

                _published++;
                _events.Publish(change);
            }
        }
    }

    /// <summary>Returns (by throwing) when the connection the callback is registered on is lost.</summary>
    private async Task WaitForConnectionLossAsync(CancellationToken stop)
    {
        while (true)
        {
            try
            {
                await Volatile.Read(ref _connectionLost).Task.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider, stop).ConfigureAwait(false);
                throw new HypervisorUnavailableException($"The libvirt connection to {_options.Uri} was closed.");
            }
            catch (TimeoutException) when (_session is not { IsBroken: false })
            {
                throw new HypervisorUnavailableException($"The libvirt connection to {_options.Uri} is broken.");
            }
            catch (TimeoutException)
            {
                // Still connected.
            }
        }
    }

    /// <summary>Publishes an event (libvirt's or one the driver derives itself), tracked and counted alike (see WatchEventsCoreAsync).</summary>
    private void PublishOwnEvent(InstanceEvent instanceEvent)
    {
        lock (_publishGate)
        {
            _states.Observe(instanceEvent.InstanceId, instanceEvent.Kind == InstanceEventKind.Deleted ? null : instanceEvent.PowerState, instanceEvent.Timestamp);
            _published++;
            _events.Publish(instanceEvent);
        }
    }

    void ILibvirtEventSink.OnLifecycleEvent(Guid domainId, int eventType, int detail)
    {
        if (DomainStateMap.ToEvent(eventType, detail) is not { } mapped)
        {
            return;
        }

        if (mapped.Kind == InstanceEventKind.Deleted)
        {
            _records.TryRemove(domainId, out _);
        }

        PublishOwnEvent(new InstanceEvent(domainId, mapped.Kind, mapped.State, TimeProvider.GetUtcNow()));
    }

    void ILibvirtEventSink.OnConnectionClosed(LibvirtSession session, int reason)
    {
        LogConnectionClosed(_logger, _options.Uri, reason);
        Volatile.Read(ref _connectionLost).TrySetResult();
    }

    [LoggerMessage(EventId = 2001, EventName = "LibvirtConnected", Level = LogLevel.Information, Message = "Opened the libvirt connection to {Uri} (reconnect: {Reconnect})")]
    private static partial void LogConnected(ILogger logger, string uri, bool reconnect);

    [LoggerMessage(EventId = 2002, EventName = "LibvirtConnectionLost", Level = LogLevel.Warning, Message = "The libvirt connection to {Uri} failed during {Operation}: {Reason}; the next call reconnects")]
    private static partial void LogConnectionLost(ILogger logger, string uri, InstanceOperation operation, string reason);

    [LoggerMessage(EventId = 2003, EventName = "LibvirtConnectionClosed", Level = LogLevel.Warning, Message = "libvirt closed the connection to {Uri} (reason {Reason})")]
    private static partial void LogConnectionClosed(ILogger logger, string uri, int reason);

    [LoggerMessage(EventId = 2004, EventName = "LibvirtInstanceDefined", Level = LogLevel.Information, Message = "Defined instance {InstanceId} ({Name})")]
    private static partial void LogDefined(ILogger logger, Guid instanceId, string name);

    [LoggerMessage(EventId = 2005, EventName = "LibvirtInstanceUndefined", Level = LogLevel.Information, Message = "Removed instance {InstanceId}")]
    private static partial void LogUndefined(ILogger logger, Guid instanceId);

    [LoggerMessage(EventId = 2006, EventName = "LibvirtCreateRolledBack", Level = LogLevel.Warning, Message = "Defining instance {InstanceId} failed; removed the files made for it")]
    private static partial void LogCreateRolledBack(ILogger logger, Exception exception, Guid instanceId);
}
