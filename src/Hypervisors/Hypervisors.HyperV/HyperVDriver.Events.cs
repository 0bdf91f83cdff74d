using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    private readonly InstanceEventHub _eventHub = new();
    private readonly Lock _eventGate = new();
    private readonly InstanceStateTracker _states = new();
    private readonly HashSet<Guid> _creating = [];
    private ReconnectingLoop? _poll;
    private TaskCompletionSource _watcherArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    /// <remarks>
    /// Events come from two sources: the driver's own operations, published once Hyper-V has confirmed them (the job
    /// completed), and a poll of the VM list every <see cref="HyperVDriverOptions.EventPollInterval"/> while anyone
    /// watches, for changes made elsewhere (another client, a guest shutting itself down). WS-Eventing subscriptions
    /// are not used. The poll runs on the SDK's <see cref="ReconnectingLoop"/>: after a failed poll it retries with
    /// back-off and then reports each difference between what it knew and the current list
    /// (<see cref="InstanceStateTracker.Reconcile"/>). A poll that overlaps an operation on the same instance leaves
    /// that instance to the operation.
    /// </remarks>
    protected override IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken)
    {
        lock (_eventGate)
        {
            var stream = _eventHub.SubscribeAsync(cancellationToken);
            _watcherArrived.TrySetResult();
            if (_poll is null)
            {
                _poll = new ReconnectingLoop($"Hyper-V VM list poll at {_options.ResolveEndpoint().GetLeftPart(UriPartial.Authority)}",
                    (afterLoss, ct) => PollOnceAsync(publish: afterLoss, ct), RunPollAsync, timeProvider: TimeProvider, logger: _logger);
                _poll.Start();
            }

            return stream;
        }
    }

    /// <inheritdoc />
    protected override async Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        await base.StopInstanceCoreAsync(instanceId, gracefulTimeout, cancellationToken).ConfigureAwait(false);
        Remember(instanceId, PowerState.Shutdown);
        Observe(instanceId, PowerState.Shutdown);
    }

    /// <summary>
    /// Records what an operation of the driver confirmed, <paramref name="state"/> (null: deleted), and publishes the
    /// event it implies. An instance the watch has not seen yet counts as coming from an unknown state (so a start
    /// publishes Started); <paramref name="created"/> marks the create. A reboot publishes Started although the state
    /// stays Running.
    /// </summary>
    private void Observe(Guid instanceId, PowerState? state, bool created = false, bool restarted = false)
    {
        lock (_eventGate)
        {
            _creating.Remove(instanceId);
            if (!created && state is not null && !_states.Snapshot().ContainsKey(instanceId))
            {
                _states.Seed(instanceId, PowerState.NoState);
            }

            var now = TimeProvider.GetUtcNow();
            if (_states.Observe(instanceId, state, now) is { } change)
            {
                _eventHub.Publish(change);
            }
            else if (restarted && state == PowerState.Running)
            {
                _eventHub.Publish(new InstanceEvent(instanceId, InstanceEventKind.Started, PowerState.Running, now));
            }
        }
    }

    /// <summary>
    /// Marks (or, with <paramref name="creating"/> false, unmarks) an instance this driver is creating: the poll leaves it
    /// alone until the create publishes its Created event, so a poll that lists the new VM first cannot swallow it.
    /// </summary>
    private void MarkCreating(Guid instanceId, bool creating)
    {
        lock (_eventGate)
        {
            _ = creating ? _creating.Add(instanceId) : _creating.Remove(instanceId);
        }
    }

    /// <summary>Polls while anyone watches; when nobody does, waits for the next watcher and starts again silently.</summary>
    private async Task RunPollAsync(CancellationToken stop)
    {
        while (true)
        {
            await Task.Delay(_options.EventPollInterval, TimeProvider, stop).ConfigureAwait(false);
            Task? arrival = null;
            lock (_eventGate)
            {
                if (_eventHub.SubscriberCount == 0)
                {
                    if (_watcherArrived.Task.IsCompleted)
                    {
                        _watcherArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }

                    arrival = _watcherArrived.Task;
                }
            }

            if (arrival is not null)
            {
                await arrival.WaitAsync(stop).ConfigureAwait(false);
                await PollOnceAsync(publish: false, stop).ConfigureAwait(false);
                continue;
            }

            await PollOnceAsync(publish: true, stop).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Lists the VMs and reconciles the watch's knowledge with the list, publishing the differences; without
    /// <paramref name="publish"/> (the first round of a watch) instances it had not seen are learnt without a Created
    /// event. Instances an operation changed while the list was read keep what the operation said; instances this driver
    /// is creating are left to the create.
    /// </summary>
    private async Task PollOnceAsync(bool publish, CancellationToken cancellationToken)
    {
        // What an operation confirms while the list is read is newer than the list (see the tracker's Mark).
        var listedAfter = _states.Mark();

        IReadOnlyList<InstanceInfo> listed;
        try
        {
            listed = await ListInstancesCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (WsManException ex)
        {
            // The loop tells connection failures from other errors by the contract's types.
            throw MapException(ex, new OperationContext(InstanceOperation.WatchEvents, null));
        }

        lock (_eventGate)
        {
            var current = listed.Where(instance => !_creating.Contains(instance.Id)).Select(instance => KeyValuePair.Create(instance.Id, instance.PowerState));
            foreach (var change in _states.Reconcile(current, TimeProvider.GetUtcNow(), listedAfter: listedAfter))
            {
                if (publish || change.Kind != InstanceEventKind.Created)
                {
                    _eventHub.Publish(change);
                }
            }
        }
    }

    private async Task StopEventsAsync()
    {
        ReconnectingLoop? poll;
        lock (_eventGate)
        {
            poll = _poll;
        }

        if (poll is not null)
        {
            await poll.DisposeAsync().ConfigureAwait(false);
        }

        _eventHub.Dispose();
    }
}
