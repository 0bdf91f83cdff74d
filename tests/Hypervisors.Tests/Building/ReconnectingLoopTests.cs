using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Hypervisors.Tests;

public sealed class ReconnectingLoopTests
{
    private static readonly ReconnectPolicy Fast = new() { InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_lost_connection_is_followed_by_a_resubscribe_that_resynchronises_and_the_loop_runs_again()
    {
        var connects = Channel.CreateUnbounded<bool>();
        var runs = 0;
        var failingConnects = 2;
        var logger = new FakeLogger();
        await using var loop = new ReconnectingLoop("test watch",
            (afterLoss, _) =>
            {
                if (afterLoss && Interlocked.Decrement(ref failingConnects) >= 0)
                {
                    throw new HypervisorUnavailableException("still down");
                }

                connects.Writer.TryWrite(afterLoss);
                return Task.CompletedTask;
            },
            async stop =>
            {
                if (Interlocked.Increment(ref runs) == 1)
                {
                    throw new IOException("connection reset");
                }

                await Task.Delay(Timeout.Infinite, stop);
            },
            Fast, logger: logger);

        await loop.StartAsync(Ct);
        Assert.False(await connects.Reader.ReadAsync(Ct)); // the first subscription, on the caller's flow
        Assert.True(await connects.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct)); // after the loss: resynchronise
        Assert.Equal(1, loop.Reconnects);
        var ids = logger.Collector.GetSnapshot().Select(r => r.Id.Id).ToList();
        Assert.Contains(100, ids);
        Assert.Equal(2, ids.Count(id => id == 102));
        Assert.Contains(101, ids);
    }

    [Fact]
    public async Task Disposing_stops_a_loop_that_waits_for_the_hypervisor()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = new ReconnectingLoop("test", (_, _) => Task.CompletedTask, async stop =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, stop);
        }, Fast);
        loop.Start();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await loop.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(0, loop.Reconnects);
    }

    [Fact]
    public void The_policy_doubles_up_to_its_maximum_with_bounded_jitter()
    {
        var policy = new ReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };
        Assert.InRange(policy.DelayBefore(0), TimeSpan.FromMilliseconds(80), TimeSpan.FromMilliseconds(120));
        Assert.InRange(policy.DelayBefore(2), TimeSpan.FromMilliseconds(320), TimeSpan.FromMilliseconds(480));
        Assert.InRange(policy.DelayBefore(50), TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(1200));
    }

    [Fact]
    public void The_tracker_reports_each_difference_once_after_a_reconnect()
    {
        var tracker = new InstanceStateTracker();
        var kept = Guid.NewGuid();
        var started = Guid.NewGuid();
        var gone = Guid.NewGuid();
        var fresh = Guid.NewGuid();
        var now = DateTimeOffset.UnixEpoch;
        Assert.Empty(tracker.Reconcile([new(kept, PowerState.Running), new(started, PowerState.Shutdown), new(gone, PowerState.Paused)], now, publishDifferences: false));

        var events = tracker.Reconcile([new(kept, PowerState.Running), new(started, PowerState.Running), new(fresh, PowerState.Shutdown)], now);

        Assert.Equal(3, events.Count);
        Assert.Equal(new InstanceEvent(gone, InstanceEventKind.Deleted, PowerState.NoState, now), events[0]);
        Assert.Contains(new InstanceEvent(started, InstanceEventKind.Started, PowerState.Running, now), events);
        Assert.Contains(new InstanceEvent(fresh, InstanceEventKind.Created, PowerState.Shutdown, now), events);
        Assert.Null(tracker.Observe(kept, PowerState.Running, now));
        Assert.Equal(InstanceEventKind.Paused, tracker.Observe(kept, PowerState.Paused, now)?.Kind);
        Assert.Equal(InstanceEventKind.Resumed, tracker.Observe(kept, PowerState.Running, now)?.Kind);
    }

    [Fact]
    public void A_listing_read_before_a_live_event_does_not_undo_it()
    {
        // The libvirt reconnect race: the list is read while a start is under way (paused), the live Started event
        // arrives before the list is applied; the stale Paused must not be published after it.
        var tracker = new InstanceStateTracker();
        var starting = Guid.NewGuid();
        var deleted = Guid.NewGuid();
        var created = Guid.NewGuid();
        var unchanged = Guid.NewGuid();
        var now = DateTimeOffset.UnixEpoch;
        tracker.Reconcile([new(starting, PowerState.Shutdown), new(deleted, PowerState.Running), new(unchanged, PowerState.Shutdown)], now, publishDifferences: false);

        var mark = tracker.Mark();
        Assert.Equal(InstanceEventKind.Started, tracker.Observe(starting, PowerState.Running, now)?.Kind);
        Assert.Equal(InstanceEventKind.Deleted, tracker.Observe(deleted, null, now)?.Kind);
        Assert.Equal(InstanceEventKind.Created, tracker.Observe(created, PowerState.Shutdown, now)?.Kind);
        var listedBeforeTheEvents = new KeyValuePair<Guid, PowerState>[] { new(starting, PowerState.Paused), new(deleted, PowerState.Running), new(unchanged, PowerState.Running) };

        var events = tracker.Reconcile(listedBeforeTheEvents, now, listedAfter: mark);

        // Only the instance no live event touched follows the list.
        Assert.Equal([new InstanceEvent(unchanged, InstanceEventKind.Started, PowerState.Running, now)], events);
        Assert.Equal(PowerState.Running, tracker.Snapshot()[starting]);
        Assert.False(tracker.Snapshot().ContainsKey(deleted));
        Assert.Equal(PowerState.Shutdown, tracker.Snapshot()[created]);

        // A listing read after those events is newer than them: it applies in full.
        var later = tracker.Mark();
        var next = tracker.Reconcile([new(starting, PowerState.Paused), new(unchanged, PowerState.Running)], now, listedAfter: later);
        Assert.Contains(new InstanceEvent(starting, InstanceEventKind.Paused, PowerState.Paused, now), next);
        Assert.Contains(new InstanceEvent(created, InstanceEventKind.Deleted, PowerState.NoState, now), next);
        Assert.Equal(2, next.Count);
    }

    [Theory]
    [InlineData(null, PowerState.Shutdown, InstanceEventKind.Created)]
    [InlineData(PowerState.Shutdown, PowerState.Running, InstanceEventKind.Started)]
    [InlineData(PowerState.Paused, PowerState.Running, InstanceEventKind.Resumed)]
    [InlineData(PowerState.Running, PowerState.Suspended, InstanceEventKind.Suspended)]
    [InlineData(PowerState.Running, PowerState.Crashed, InstanceEventKind.Crashed)]
    [InlineData(PowerState.Running, null, InstanceEventKind.Deleted)]
    public void Each_state_change_has_one_event_kind(PowerState? from, PowerState? to, InstanceEventKind kind) =>
        Assert.Equal(kind, InstanceStateTracker.KindOf(from, to));
}
