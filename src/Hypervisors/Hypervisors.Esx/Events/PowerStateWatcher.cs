using System.Xml.Linq;
using Hypervisors.Esx.Inventory;
using Hypervisors.Esx.Mapping;
using Hypervisors.Esx.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Esx.Events;

/// <summary>
/// Turns PropertyCollector updates on <c>runtime.powerState</c> of every VM under the driver's folder into
/// lifecycle events: one collector with a filter over a container view, and a <c>WaitForUpdatesEx</c> loop on a
/// background task feeding the <see cref="InstanceEventHub"/>. VMs entering the view raise Created, leaving it
/// Deleted. After a lost session it builds the filter again and reports what changed meanwhile.
/// </summary>
internal sealed partial class PowerStateWatcher(VimClient client, ManagedObjectReference folder, InstanceEventHub hub, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    private static readonly string[] Paths = ["runtime.powerState", "config.extraConfig"];
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<ManagedObjectReference, (Guid Id, PowerState State)> _known = [];
    private ManagedObjectReference? _collector;
    private Task? _loop;

    /// <summary>How long one long poll waits before it is renewed.</summary>
    public TimeSpan PollWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Takes the initial snapshot (no events for VMs that exist now) and starts the loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var version = await SubscribeAsync(publishDifferences: false, cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => RunAsync(version, _stop.Token), CancellationToken.None);
    }

    /// <summary>Stops the loop and destroys the collector.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped while waiting to subscribe again.
            }
        }

        if (_collector is { } collector)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await client.DestroyPropertyCollectorAsync(collector, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (VimClient.IsCallFailure(ex))
            {
                // It goes with the session.
            }
        }

        _stop.Dispose();
    }

    private async Task RunAsync(string version, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var set = await client.WaitForUpdatesAsync(_collector!.Value, version, PollWait, stop).ConfigureAwait(false);
                if (set is null)
                {
                    continue;
                }

                version = set.Version;
                await ApplyAsync(set.Updates, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (VimClient.IsCallFailure(ex, orCancelled: false))
            {
                LogWatchFailed(logger, ex);
                version = await ResubscribeAsync(stop).ConfigureAwait(false);
            }
        }
    }

    private async Task<string> ResubscribeAsync(CancellationToken stop)
    {
        while (true)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), time, stop).ConfigureAwait(false);
                return await SubscribeAsync(publishDifferences: true, stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (VimClient.IsCallFailure(ex, orCancelled: false))
            {
                LogWatchFailed(logger, ex);
            }
        }
    }

    /// <summary>Creates collector, view and filter, reads the current state and returns the version to wait from.</summary>
    private async Task<string> SubscribeAsync(bool publishDifferences, CancellationToken cancellationToken)
    {
        var collector = await client.CreatePropertyCollectorAsync(cancellationToken).ConfigureAwait(false);
        _collector = collector;
        var view = await Placement.CreateViewAsync(client, folder, "VirtualMachine", cancellationToken).ConfigureAwait(false);
        await client.CreateFilterAsync(collector, w => PropertySpecs.ForView(w, view, "VirtualMachine", Paths), cancellationToken).ConfigureAwait(false);
        var set = await client.WaitForUpdatesAsync(collector, null, PollWait, cancellationToken).ConfigureAwait(false);
        var current = new Dictionary<ManagedObjectReference, (Guid Id, PowerState State)>();
        foreach (var update in set?.Updates ?? [])
        {
            if (Decode(update.Changes) is { } decoded)
            {
                current[update.Obj] = decoded;
            }
        }

        if (publishDifferences)
        {
            foreach (var (vm, old) in _known.Where(k => !current.ContainsKey(k.Key)).ToList())
            {
                Publish(old.Id, InstanceEventKind.Deleted, PowerState.NoState);
            }

            foreach (var (vm, now) in current)
            {
                if (!_known.TryGetValue(vm, out var old))
                {
                    PublishCreated(now.Id, now.State);
                }
                else if (old.State != now.State)
                {
                    Publish(now.Id, PowerStateMapping.EventOf(now.State), now.State);
                }
            }
        }

        _known.Clear();
        foreach (var (vm, state) in current)
        {
            _known[vm] = state;
        }

        return set?.Version ?? string.Empty;
    }

    private async Task ApplyAsync(IReadOnlyList<ObjectUpdate> updates, CancellationToken cancellationToken)
    {
        var unresolved = new List<ManagedObjectReference>();
        foreach (var update in updates)
        {
            if (update.Kind == "leave")
            {
                if (_known.Remove(update.Obj, out var gone))
                {
                    Publish(gone.Id, InstanceEventKind.Deleted, PowerState.NoState);
                }

                continue;
            }

            if (!_known.TryGetValue(update.Obj, out var known))
            {
                if (Decode(update.Changes) is { } entered)
                {
                    _known[update.Obj] = entered;
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
                if (path == "runtime.powerState" && PowerStateMapping.FromVim(value?.Value) is { } state && state != known.State)
                {
                    _known[update.Obj] = (known.Id, state);
                    known = (known.Id, state);
                    Publish(known.Id, PowerStateMapping.EventOf(state), state);
                }
            }
        }

        foreach (var vm in unresolved.Distinct())
        {
            try
            {
                var content = await client.RetrieveObjectAsync(vm, Paths, cancellationToken).ConfigureAwait(false);
                if (Decode(content.Properties.Select(p => new KeyValuePair<string, XElement?>(p.Key, p.Value)).ToList()) is { } resolved)
                {
                    _known[vm] = resolved;
                    PublishCreated(resolved.Id, resolved.State);
                }
            }
            catch (VimFaultException fault) when (fault.FaultType == "ManagedObjectNotFound")
            {
                // Created and destroyed before it could be read.
            }
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

    private void Publish(Guid id, InstanceEventKind kind, PowerState state) => hub.Publish(new InstanceEvent(id, kind, state, time.GetUtcNow()));

    /// <summary>
    /// A VM seen for the first time: Created (a new VM is shut down), then the change to the state it is already in
    /// when the watch saw it late (created and powered on between two updates).
    /// </summary>
    private void PublishCreated(Guid id, PowerState state)
    {
        Publish(id, InstanceEventKind.Created, PowerState.Shutdown);
        if (state != PowerState.Shutdown)
        {
            Publish(id, PowerStateMapping.EventOf(state), state);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The vSphere power-state watch failed; subscribing again.")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception);
}
