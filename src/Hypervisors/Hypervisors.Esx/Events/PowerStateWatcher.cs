using System.Xml.Linq;
using Hypervisors.Esx.Inventory;
using Hypervisors.Esx.Mapping;
using Hypervisors.Esx.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Esx.Events;

/// <summary>
/// Turns PropertyCollector updates on <c>runtime.powerState</c> of every VM under the driver's folder into
/// lifecycle events: one collector with a filter over a container view, and a <c>WaitForUpdatesEx</c> long poll run by
/// the SDK's <see cref="ReconnectingLoop"/>, feeding the <see cref="InstanceEventHub"/>. VMs entering the view raise
/// Created, leaving it Deleted. After a lost session or connection the loop builds collector, view and filter again
/// and <see cref="InstanceStateTracker.Reconcile"/> reports what changed meanwhile, as the contract states.
/// </summary>
internal sealed partial class PowerStateWatcher : IAsyncDisposable
{
    private static readonly string[] Paths = ["runtime.powerState", "config.extraConfig"];
    private readonly VimClient _client;
    private readonly ManagedObjectReference _folder;
    private readonly InstanceEventHub _hub;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly InstanceStateTracker _states = new();
    private readonly Dictionary<ManagedObjectReference, Guid> _ids = [];
    private readonly ReconnectingLoop _loop;
    private ManagedObjectReference? _collector;
    private string _version = string.Empty;

    public PowerStateWatcher(VimClient client, ManagedObjectReference folder, InstanceEventHub hub, TimeProvider time, ILogger logger, TimeSpan pollWait)
    {
        _client = client;
        _folder = folder;
        _hub = hub;
        _time = time;
        _logger = logger;
        PollWait = pollWait;
        _loop = new ReconnectingLoop($"vSphere power-state watch at {client.SdkUrl}", SubscribeAsync, RunAsync, timeProvider: time, logger: logger);
    }

    /// <summary>How long one long poll waits before it is renewed.</summary>
    public TimeSpan PollWait { get; }

    /// <summary>How many times the watch subscribed again after a loss.</summary>
    public int Resubscribes => _loop.Reconnects;

    /// <summary>Takes the initial snapshot (no events for VMs that exist now) and starts the loop.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => _loop.StartAsync(cancellationToken);

    /// <summary>Stops the loop and destroys the collector.</summary>
    public async ValueTask DisposeAsync()
    {
        await _loop.DisposeAsync().ConfigureAwait(false);
        await DestroyCollectorQuietlyAsync().ConfigureAwait(false);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var set = await _client.WaitForUpdatesAsync(_collector!.Value, _version, PollWait, stop).ConfigureAwait(false);
            if (set is null)
            {
                continue;
            }

            _version = set.Version;
            await ApplyAsync(set.Updates, stop).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Creates collector, view and filter and reads the current state: the version to wait from. After a loss
    /// (<paramref name="afterLoss"/>) it publishes the differences from what was known.
    /// </summary>
    private async Task SubscribeAsync(bool afterLoss, CancellationToken cancellationToken)
    {
        await DestroyCollectorQuietlyAsync().ConfigureAwait(false);
        var collector = await _client.CreatePropertyCollectorAsync(cancellationToken).ConfigureAwait(false);
        _collector = collector;
        var view = await Placement.CreateViewAsync(_client, _folder, "VirtualMachine", cancellationToken).ConfigureAwait(false);
        await _client.CreateFilterAsync(collector, w => PropertySpecs.ForView(w, view, "VirtualMachine", Paths), cancellationToken).ConfigureAwait(false);
        var set = await _client.WaitForUpdatesAsync(collector, null, PollWait, cancellationToken).ConfigureAwait(false);
        _ids.Clear();
        var current = new Dictionary<Guid, PowerState>();
        foreach (var update in set?.Updates ?? [])
        {
            if (Decode(update.Changes) is { } decoded)
            {
                _ids[update.Obj] = decoded.Id;
                current[decoded.Id] = decoded.State;
            }
        }

        foreach (var change in _states.Reconcile(current, _time.GetUtcNow(), publishDifferences: afterLoss))
        {
            _hub.Publish(change);
        }

        _version = set?.Version ?? string.Empty;
    }

    private async Task ApplyAsync(IReadOnlyList<ObjectUpdate> updates, CancellationToken cancellationToken)
    {
        var unresolved = new List<ManagedObjectReference>();
        foreach (var update in updates)
        {
            if (update.Kind == "leave")
            {
                if (_ids.Remove(update.Obj, out var gone))
                {
                    Publish(gone, null);
                }

                continue;
            }

            if (!_ids.TryGetValue(update.Obj, out var id))
            {
                if (Decode(update.Changes) is { } entered)
                {
                    _ids[update.Obj] = entered.Id;
                    PublishCreated(entered.Id, entered.State);
                }
                else
                {
                    unresolved.Add(update.Obj); // seen before its id was written; read it whole below
                }

                continue;
            }

            foreach (var (path, value) in update.Changes)
            {
                if (path == "runtime.powerState" && PowerStateMapping.FromVim(value?.Value) is { } state)
                {
                    Publish(id, state);
                }
            }
        }

        foreach (var vm in unresolved.Distinct())
        {
            try
            {
                var content = await _client.RetrieveObjectAsync(vm, Paths, cancellationToken).ConfigureAwait(false);
                if (Decode(content.Properties.Select(p => new KeyValuePair<string, XElement?>(p.Key, p.Value)).ToList()) is { } resolved)
                {
                    _ids[vm] = resolved.Id;
                    PublishCreated(resolved.Id, resolved.State);
                }
            }
            catch (VimFaultException fault) when (fault.FaultType == "ManagedObjectNotFound")
            {
                // Created and destroyed before it could be read.
            }
        }
    }

    private async Task DestroyCollectorQuietlyAsync()
    {
        if (_collector is not { } collector)
        {
            return;
        }

        _collector = null;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _client.DestroyPropertyCollectorAsync(collector, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (VimClient.IsCallFailure(ex))
        {
            LogCollectorLeft(_logger, collector.Value);
        }
    }

    private static (Guid Id, PowerState State)? Decode(IReadOnlyList<KeyValuePair<string, XElement?>> changes)
    {
        XElement? extra = null;
        string? power = null;
        foreach (var (path, value) in changes)
        {
            if (path == "config.extraConfig")
            {
                extra = value;
            }
            else if (path == "runtime.powerState")
            {
                power = value?.Value;
            }
        }

        var config = VmRecord.ReadExtraConfig(extra);
        return Guid.TryParse(config.GetValueOrDefault(VmRecord.IdKey), out var id) && PowerStateMapping.FromVim(power) is { } state ? (id, state) : null;
    }

    private void Publish(Guid id, PowerState? state)
    {
        if (_states.Observe(id, state, _time.GetUtcNow()) is { } change)
        {
            _hub.Publish(change);
        }
    }

    [LoggerMessage(EventId = 3020, EventName = "EsxCollectorLeft", Level = LogLevel.Debug, Message = "Could not destroy property collector {Collector}; it goes with its session.")]
    private static partial void LogCollectorLeft(ILogger logger, string collector);

    /// <summary>
    /// A VM seen for the first time: Created (a new VM is shut down), then the change to the state it is already in
    /// when the watch saw it late (created and powered on between two updates).
    /// </summary>
    private void PublishCreated(Guid id, PowerState state)
    {
        Publish(id, PowerState.Shutdown);
        if (state != PowerState.Shutdown)
        {
            Publish(id, state);
        }
    }
}
