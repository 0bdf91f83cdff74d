using Hypervisors.Agent.Client;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Events;

public sealed class EventStreamTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static async Task<List<AgentEvent>> TakeAsync(IAsyncEnumerable<AgentEvent> stream, int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var taken = new List<AgentEvent>();
        await foreach (var item in stream.WithCancellation(timeout.Token))
        {
            taken.Add(item);
            if (taken.Count == count)
            {
                break;
            }
        }

        return taken;
    }

    [Fact]
    public async Task The_stream_delivers_lifecycle_events_live_and_resumes_after_the_last_event_id()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var id = Guid.NewGuid();
        using var liveCancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var live = TakeAsync(agent.Client.WatchEventsAsync(cancellationToken: liveCancel.Token), 2);

        await WaitUntilSubscribedAsync(agent);
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("events-1"), Wait, ct);
        await agent.Client.RunActionAsync("local", id, "start", Wait, cancellationToken: ct);
        var seen = await live;

        Assert.Equal([InstanceEventKind.Created, InstanceEventKind.Started], seen.Select(e => e.Kind));
        Assert.All(seen, e => Assert.Equal(id, e.InstanceId));
        Assert.Equal(PowerState.Running, seen[1].PowerState);
        Assert.True(seen[1].Id > seen[0].Id);

        await agent.Client.RunActionAsync("local", id, "pause", Wait, cancellationToken: ct);
        var resumed = await TakeAsync(agent.Client.WatchEventsAsync(lastEventId: seen[0].Id, cancellationToken: ct), 2);

        Assert.Equal([InstanceEventKind.Started, InstanceEventKind.Paused], resumed.Select(e => e.Kind));
        Assert.Equal(seen[1].Id, resumed[0].Id);
    }

    [Fact]
    public async Task Events_survive_a_restart_of_the_agent_for_resuming_streams()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-test-").FullName;
        try
        {
            var ct = TestContext.Current.CancellationToken;
            long firstId;
            await using (var first = await TestAgent.StartAsync(dataDirectory: dataDirectory))
            {
                await first.Client.CreateInstanceAsync("local", Guid.NewGuid(), Specs.Small("persist-1"), Wait, ct);
                await WaitForEventsAsync(first, 1);
                firstId = first.Service<EventLog>().LastSeq;
            }

            await using var second = await TestAgent.StartAsync(dataDirectory: dataDirectory);
            var replayed = await TakeAsync(second.Client.WatchEventsAsync(lastEventId: 0, cancellationToken: ct), 1);

            Assert.Equal(firstId, replayed[0].Id);
            Assert.Equal(InstanceEventKind.Created, replayed[0].Kind);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task The_power_state_sync_emits_an_event_when_the_hypervisor_drifts_from_the_last_known_state()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("drift-1", start: true), Wait, ct);
        await WaitForEventsAsync(agent, 2);
        var sync = agent.Service<PowerStateSync>();
        var events = agent.Service<EventLog>();

        Assert.Equal(0, await sync.SyncOnceAsync(ct));

        // A change the agent missed (say, an event lost while libvirtd restarted): the journal says Paused.
        await events.RecordAsync("local", id, InstanceEventKind.Paused, PowerState.Paused, "driver");
        var after = events.LastSeq;
        var drifts = await sync.SyncOnceAsync(ct);
        var emitted = await TakeAsync(agent.Client.WatchEventsAsync(lastEventId: after, cancellationToken: ct), 1);

        Assert.Equal(1, drifts);
        Assert.Equal(InstanceEventKind.Started, emitted[0].Kind);
        Assert.Equal(PowerState.Running, emitted[0].PowerState);
        Assert.Equal("sync", emitted[0].Source);
        Assert.Contains(agent.Logs.Entries, e => e.EventId.Id == 3000 && e.Message.Contains(id.ToString(), StringComparison.Ordinal));
        Assert.Equal(0, await sync.SyncOnceAsync(ct));
    }

    [Fact]
    public async Task Instances_that_vanished_while_the_agent_was_down_are_reported_deleted_by_the_sync()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-test-").FullName;
        try
        {
            var ct = TestContext.Current.CancellationToken;
            var id = Guid.NewGuid();
            long after;
            await using (var first = await TestAgent.StartAsync(dataDirectory: dataDirectory))
            {
                await first.Client.CreateInstanceAsync("local", id, Specs.Small("vanish-1"), Wait, ct);
                await WaitForEventsAsync(first, 1);
                after = first.Service<EventLog>().LastSeq;
            }

            // The fake keeps nothing across processes: to the new agent the instance is gone. The sync at start
            // (or this explicit round, whichever comes first) reports it.
            await using var second = await TestAgent.StartAsync(dataDirectory: dataDirectory);
            await second.Service<PowerStateSync>().SyncOnceAsync(ct);
            var emitted = await TakeAsync(second.Client.WatchEventsAsync(lastEventId: after, cancellationToken: ct), 1);

            Assert.Equal(InstanceEventKind.Deleted, emitted[0].Kind);
            Assert.Equal(id, emitted[0].InstanceId);
            Assert.Equal("sync", emitted[0].Source);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task A_malformed_last_event_id_is_400()
    {
        await using var agent = await TestAgent.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/events") { Headers = { { "Last-Event-ID", "yesterday" } } };

        using var response = await agent.Http.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
    }

    internal static async Task WaitForEventsAsync(TestAgent agent, long count)
    {
        var events = agent.Service<EventLog>();
        for (var i = 0; i < 300 && events.LastSeq < count; i++)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.True(events.LastSeq >= count, $"expected {count} events, saw {events.LastSeq}");
    }

    private static async Task WaitUntilSubscribedAsync(TestAgent agent)
    {
        var events = agent.Service<EventLog>();
        for (var i = 0; i < 300 && events.SubscriberCount == 0; i++)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.True(events.SubscriberCount > 0);
    }
}
