using Hypervisors.Xen.Mapping;
using Hypervisors.Xen.Session;
using Hypervisors.Xen.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Xen.Events;

/// <summary>
/// Turns XenAPI's <c>event.from</c> on class <c>VM</c> into lifecycle events, run by the SDK's
/// <see cref="ReconnectingLoop"/>: connecting takes a token for "now" and reads every VM once
/// (<c>VM.get_all_records</c>); receiving long-polls <c>event.from</c> from that token. After a lost connection, a
/// dead session or <c>EVENTS_LOST</c> the loop connects again and <see cref="InstanceStateTracker.Reconcile"/>
/// publishes what changed meanwhile, as the contract states. It runs only while the driver has been watched.
/// </summary>
internal sealed class XenEventPump : IAsyncDisposable
{
    private static readonly string[] Classes = ["VM"];

    private readonly XenApiSession _session;
    private readonly TimeSpan _pollTimeout;
    private readonly InstanceEventHub _hub;
    private readonly TimeProvider _time;
    private readonly Action<Guid, string, bool> _onRefChanged;
    private readonly InstanceStateTracker _states = new();
    private readonly Dictionary<string, Guid> _idsByRef = new(StringComparer.Ordinal);
    private readonly ReconnectingLoop _loop;
    private string _token = string.Empty;

    /// <param name="session">The driver's session.</param>
    /// <param name="pollTimeout">How long one <c>event.from</c> waits on the server.</param>
    /// <param name="hub">Where events go.</param>
    /// <param name="time">The clock for event timestamps and reconnect waits.</param>
    /// <param name="logger">Where the loop logs.</param>
    /// <param name="onRefChanged">Told of each instance's VM reference as seen (true) or gone (false), to keep the driver's index current.</param>
    public XenEventPump(XenApiSession session, TimeSpan pollTimeout, InstanceEventHub hub, TimeProvider time, ILogger logger, Action<Guid, string, bool> onRefChanged)
    {
        _session = session;
        _pollTimeout = pollTimeout;
        _hub = hub;
        _time = time;
        _onRefChanged = onRefChanged;
        _loop = new ReconnectingLoop($"XenAPI VM events at {session.Rpc.Endpoint}", ConnectAsync, RunAsync, timeProvider: time, logger: logger);
    }

    /// <summary>How many times the loop connected again after a loss.</summary>
    public int Reconnects => _loop.Reconnects;

    /// <summary>Connects on the caller's flow (events after this call are delivered), then runs in the background.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => _loop.StartAsync(cancellationToken);

    public ValueTask DisposeAsync() => _loop.DisposeAsync();

    /// <summary>
    /// Takes a token for "now" (events after it will be delivered) and reads every VM: the driver's first use does
    /// this once, so the watch, whenever it starts, reports everything from then on.
    /// </summary>
    public async Task<Dictionary<string, object?>> PrimeAsync(CancellationToken cancellationToken)
    {
        // An empty token returns the requested classes' objects; the pool class has one object, so this is cheap.
        var now = XenValue.ToStruct(await _session.CallAsync("event.from", [new[] { "pool" }, string.Empty, 0.0], TimeSpan.Zero, cancellationToken)
            .ConfigureAwait(false));
        var token = XenValue.ToText(XenValue.Member(now, "token"));
        var records = XenValue.ToStruct(await _session.CallAsync("VM.get_all_records", cancellationToken).ConfigureAwait(false));
        Reconcile(records, publishDifferences: false);
        _token = token;
        return records;
    }

    /// <summary>
    /// The loop's connect: the first time, the primed token is used as is; after a loss (or when never primed) it
    /// primes again and publishes what changed meanwhile.
    /// </summary>
    private async Task ConnectAsync(bool afterLoss, CancellationToken cancellationToken)
    {
        if (afterLoss || _token.Length == 0)
        {
            var token = XenValue.ToText(XenValue.Member(XenValue.ToStruct(await _session.CallAsync(
                "event.from", [new[] { "pool" }, string.Empty, 0.0], TimeSpan.Zero, cancellationToken).ConfigureAwait(false)), "token"));
            Reconcile(XenValue.ToStruct(await _session.CallAsync("VM.get_all_records", cancellationToken).ConfigureAwait(false)), afterLoss);
            _token = token;
        }
    }

    /// <summary>Replaces what is known with <paramref name="records"/> (every VM) and publishes the differences when asked.</summary>
    private void Reconcile(Dictionary<string, object?> records, bool publishDifferences)
    {
        var current = new Dictionary<Guid, PowerState>();
        var previousRefs = new Dictionary<string, Guid>(_idsByRef, StringComparer.Ordinal);
        _idsByRef.Clear();
        foreach (var (vmRef, value) in records)
        {
            var record = XenValue.ToStruct(value);
            if (VmRecords.TryGetInstanceId(record, out var id))
            {
                _idsByRef[vmRef] = id;
                current[id] = VmRecords.PowerStateOf(record);
                _onRefChanged(id, vmRef, true);
            }
        }

        foreach (var (vmRef, id) in previousRefs.Where(p => !_idsByRef.ContainsKey(p.Key)))
        {
            _onRefChanged(id, vmRef, false);
        }

        if (publishDifferences)
        {
            // A VM first seen now is reported as on live first sight: Created (shut down), then its state's event below.
            var known = _states.Snapshot();
            foreach (var id in current.Keys.Where(id => !known.ContainsKey(id)).Order())
            {
                Publish(id, PowerState.Shutdown);
            }
        }

        foreach (var change in _states.Reconcile(current, _time.GetUtcNow(), publishDifferences))
        {
            _hub.Publish(change);
        }
    }

    /// <summary>Long-polls <c>event.from</c> until it fails; <c>EVENTS_LOST</c> ends the run, so the loop reconnects and reconciles.</summary>
    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var result = XenValue.ToStruct(await _session.CallAsync("event.from", [Classes, _token, _pollTimeout.TotalSeconds], _pollTimeout, stop)
                .ConfigureAwait(false));
            foreach (var item in XenValue.ToArray(XenValue.Member(result, "events")))
            {
                Dispatch(XenValue.ToStruct(item));
            }

            _token = XenValue.ToText(XenValue.Member(result, "token"));
        }
    }

    private void Dispatch(Dictionary<string, object?> item)
    {
        if (!XenValue.ToText(item.GetValueOrDefault("class")).Equals("vm", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var reference = XenValue.ToText(item.GetValueOrDefault("ref"));
        if (XenValue.ToText(item.GetValueOrDefault("operation")) == "del")
        {
            if (_idsByRef.Remove(reference, out var gone))
            {
                _onRefChanged(gone, reference, false);
                Publish(gone, null);
            }

            return;
        }

        if (item.GetValueOrDefault("snapshot") is not Dictionary<string, object?> snapshot || !VmRecords.TryGetInstanceId(snapshot, out var id))
        {
            return;
        }

        var state = VmRecords.PowerStateOf(snapshot);
        if (_idsByRef.TryAdd(reference, id))
        {
            // First sight (created here or elsewhere, or tagged after a template clone): a new VM is shut down, then
            // the change to the state it is already in when the watch saw it late.
            _onRefChanged(id, reference, true);
            Publish(id, PowerState.Shutdown);
        }

        Publish(id, state);
    }

    private void Publish(Guid id, PowerState? state)
    {
        if (_states.Observe(id, state, _time.GetUtcNow()) is { } change)
        {
            _hub.Publish(change);
        }
    }
}
