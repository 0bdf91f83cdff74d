using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Operations;
using Hypervisors.Agent.Telemetry;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Events;

/// <summary>
/// Like Nova's <c>_sync_power_states</c>: every interval, lists each driver's instances and compares their power
/// states with the last known ones; a difference that no event explained becomes an event (source "sync"). An
/// instance with an operation in flight, or with an event newer than the listing, is left for the next round.
/// Each round also trims the journal's events to <see cref="AgentOptions.EventRetention"/>.
/// </summary>
internal sealed class PowerStateSync(
    IHypervisorDriverRegistry registry,
    EventLog events,
    OperationService operations,
    AgentMetrics metrics,
    IOptions<AgentOptions> options,
    Journal.OperationJournal journal,
    ILogger<PowerStateSync> logger) : BackgroundService
{
    /// <summary>Runs one round over every driver; returns the number of drift events emitted.</summary>
    public async Task<int> SyncOnceAsync(CancellationToken cancellationToken)
    {
        var emitted = 0;
        foreach (var name in registry.Names)
        {
            try
            {
                emitted += await SyncDriverAsync(name, registry.Get(name), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                Log.PowerSyncFailed(logger, name, exception);
            }
        }

        return emitted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The first round waits one interval, so events the drivers report at start are in before it compares.
        using var timer = new PeriodicTimer(options.Value.PowerSyncInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await SyncOnceAsync(stoppingToken).ConfigureAwait(false);
                journal.PruneEvents(options.Value.EventRetention);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping (or the start failed before the loop ran).
        }
    }

    private async Task<int> SyncDriverAsync(string name, IHypervisorDriver driver, CancellationToken cancellationToken)
    {
        var listedAfter = events.LastSeq;
        var instances = await driver.ListInstancesAsync(cancellationToken).ConfigureAwait(false);
        var known = events.KnownStates(name);
        var emitted = 0;

        bool Settled(Guid id) => !operations.HasActive(name, id) && !(known.TryGetValue(id, out var entry) && entry.Seq > listedAfter);

        foreach (var instance in instances)
        {
            var isKnown = known.Remove(instance.Id, out var last);
            if ((isKnown && last.State == instance.PowerState) || !Settled(instance.Id) || (isKnown && last.Seq > listedAfter))
            {
                continue;
            }

            Log.PowerStateDrift(logger, name, instance.Id, isKnown ? last.State.ToString() : "unknown", instance.PowerState.ToString());
            await events.RecordAsync(name, instance.Id, isKnown ? EventLog.EventFor(instance.PowerState) : InstanceEventKind.Created, instance.PowerState, "sync").ConfigureAwait(false);
            metrics.Drift.Add(1, new KeyValuePair<string, object?>("driver", name));
            emitted++;
        }

        foreach (var (vanished, last) in known)
        {
            if (last.Seq > listedAfter || operations.HasActive(name, vanished))
            {
                continue;
            }

            Log.PowerStateDrift(logger, name, vanished, last.State.ToString(), "gone");
            await events.RecordAsync(name, vanished, InstanceEventKind.Deleted, PowerState.NoState, "sync").ConfigureAwait(false);
            metrics.Drift.Add(1, new KeyValuePair<string, object?>("driver", name));
            emitted++;
        }

        foreach (var state in Enum.GetValues<PowerState>())
        {
            metrics.Instances.Record(instances.Count(i => i.PowerState == state), new("driver", name), new("power_state", state.ToString()));
        }

        return emitted;
    }
}
