using Microsoft.Extensions.Logging;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    private readonly InstanceEventHub _eventHub = new();
    private readonly Lock _eventGate = new();
    private readonly Dictionary<Guid, (PowerState State, long Generation)> _known = [];
    private readonly CancellationTokenSource _pollStop = new();
    private Task? _poller;
    private bool _polling;

    /// <inheritdoc />
    /// <remarks>
    /// Events come from two sources: the driver's own operations, published once Hyper-V has confirmed them (the job
    /// completed), and a poll of the VM list every <see cref="HyperVDriverOptions.EventPollInterval"/> while anyone
    /// watches, for changes made elsewhere (another client, a guest shutting itself down). WS-Eventing subscriptions
    /// are not used. A poll that overlaps an operation on the same instance leaves that instance to the operation.
    /// </remarks>
    protected override IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken)
    {
        lock (_eventGate)
        {
            var stream = _eventHub.SubscribeAsync(cancellationToken);
            if (!_polling)
            {
                _polling = true;
                _poller = PollAsync(_pollStop.Token);
            }

            return stream;
        }
    }

    /// <inheritdoc />
    protected override async Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        await base.StopInstanceCoreAsync(instanceId, gracefulTimeout, cancellationToken).ConfigureAwait(false);
        Observe(instanceId, PowerState.Shutdown);
    }

    /// <summary>
    /// Records <paramref name="state"/> (null: deleted) for the instance and publishes the event it implies. Operations
    /// pass no <paramref name="expectedGeneration"/>; the poll passes the generation it saw before reading, and
    /// <paramref name="silent"/> on its first round, which learns the instances that existed before anyone watched.
    /// </summary>
    /// <param name="restarted">A reboot: the instance began running again even though its state did not change.</param>
    private void Observe(Guid instanceId, PowerState? state, long? expectedGeneration = null, bool created = false, bool silent = false, bool restarted = false)
    {
        lock (_eventGate)
        {
            var known = _known.TryGetValue(instanceId, out var previous);
            if (expectedGeneration is { } generation && (known ? previous.Generation : 0) != generation)
            {
                return; // An operation changed the instance while the poll was reading it.
            }

            if (state is not { } now)
            {
                if (known || expectedGeneration is null)
                {
                    _known.Remove(instanceId);
                    _eventHub.Publish(new InstanceEvent(instanceId, InstanceEventKind.Deleted, PowerState.NoState, TimeProvider.GetUtcNow()));
                }

                return;
            }

            _known[instanceId] = (now, (known ? previous.Generation : 0) + 1);
            if ((known && previous.State == now && !restarted) || (!known && silent))
            {
                return;
            }

            var polledNew = !known && expectedGeneration is not null;
            InstanceEventKind? kind = created || polledNew ? InstanceEventKind.Created : now switch
            {
                PowerState.Running => previous.State == PowerState.Paused && !restarted ? InstanceEventKind.Resumed : InstanceEventKind.Started,
                PowerState.Paused => InstanceEventKind.Paused,
                PowerState.Shutdown => InstanceEventKind.Stopped,
                PowerState.Suspended => InstanceEventKind.Suspended,
                PowerState.Crashed => InstanceEventKind.Crashed,
                _ => null,
            };
            if (kind is { } k)
            {
                _eventHub.Publish(new InstanceEvent(instanceId, k, now, TimeProvider.GetUtcNow()));
            }
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var firstRound = true;
        while (true)
        {
            lock (_eventGate)
            {
                if (_eventHub.SubscriberCount == 0 || cancellationToken.IsCancellationRequested)
                {
                    _polling = false;
                    return;
                }
            }

            try
            {
                Dictionary<Guid, long> before;
                lock (_eventGate)
                {
                    before = _known.ToDictionary(k => k.Key, k => k.Value.Generation);
                }

                var listed = await ListInstancesCoreAsync(cancellationToken).ConfigureAwait(false);
                foreach (var instance in listed)
                {
                    Observe(instance.Id, instance.PowerState, before.GetValueOrDefault(instance.Id), silent: firstRound);
                }

                foreach (var gone in before.Keys.Except(listed.Select(i => i.Id)))
                {
                    Observe(gone, null, before[gone]);
                }

                firstRound = false;
            }
            catch (HypervisorException ex)
            {
                _logger.LogDebug(ex, "Polling Hyper-V for lifecycle events failed; retrying");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Disposed; the loop ends at the check above.
            }

            try
            {
                await Task.Delay(_options.EventPollInterval, TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Disposed; the loop ends at the check above.
            }
        }
    }

    private async Task StopEventsAsync()
    {
        await _pollStop.CancelAsync().ConfigureAwait(false);
        _eventHub.Dispose();
        Task? poller;
        lock (_eventGate)
        {
            poller = _poller;
        }

        if (poller is not null)
        {
            await poller.ConfigureAwait(false);
        }

        _pollStop.Dispose();
    }
}
