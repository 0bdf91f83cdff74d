using System.Net;
using System.Net.Http.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 item 8: no silent stream, quiet disconnects, bounded slow readers.</summary>
public sealed class EventStreamHardeningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_last_event_id_beyond_the_log_is_refused_not_answered_with_silence()
    {
        await using var agent = await TestAgent.StartAsync();
        await agent.Client.CreateInstanceAsync("local", Guid.NewGuid(), Specs.Small("one"), TimeSpan.FromSeconds(30), Ct);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/events");
        request.Headers.Add("Last-Event-ID", "999999");
        using var response = await agent.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var problem = await response.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Last-Event-ID", problem!.Field);
        Assert.Contains("live edge", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_disconnects_log_nothing_above_debug()
    {
        await using var agent = await TestAgent.StartAsync();
        var events = agent.Service<EventLog>();
        for (var round = 0; round < 20; round++)
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/events");
            using var response = await agent.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            await using var body = await response.Content.ReadAsStreamAsync(cancel.Token);
            await body.ReadAtLeastAsync(new byte[16], 1, throwOnEndOfStream: true, cancel.Token);
            await cancel.CancelAsync();
        }

        for (var attempt = 0; attempt < 50 && events.SubscriberCount > 0; attempt++)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Equal(0, events.SubscriberCount);
        Assert.DoesNotContain(agent.Logs.Entries, entry => entry.Level > LogLevel.Debug && entry.Message.Contains("Exception", StringComparison.Ordinal));
        Assert.DoesNotContain(agent.Logs.Entries, entry => entry.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task A_reader_that_stops_reading_is_bounded_and_told_where_to_resume()
    {
        await using var agent = await TestAgent.StartAsync();
        var events = agent.Service<EventLog>();
        var instance = Guid.NewGuid();
        await using var stream = events.StreamAsync(null, buffer: 4, Ct).GetAsyncEnumerator(Ct);
        var first = stream.MoveNextAsync();

        for (var i = 0; i < 20; i++)
        {
            await events.RecordAsync("local", instance, InstanceEventKind.Started, PowerState.Running, "test");
        }

        var received = new List<long>();
        Assert.True(await first);
        received.Add(stream.Current.Id);
        var overflow = await Assert.ThrowsAsync<EventStreamOverflowException>(async () =>
        {
            while (await stream.MoveNextAsync())
            {
                received.Add(stream.Current.Id);
            }
        });

        Assert.NotNull(overflow);
        Assert.InRange(received.Count, 1, 6);
        Assert.Equal(Enumerable.Range((int)received[0], received.Count).Select(i => (long)i), received);
        Assert.Equal(0, events.SubscriberCount);
    }

    [Fact]
    public async Task The_client_resumes_after_an_overflow_without_losing_events()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:EventStreamBuffer"] = "2" });
        var events = agent.Service<EventLog>();
        var instance = Guid.NewGuid();
        await events.RecordAsync("local", instance, InstanceEventKind.Created, PowerState.Shutdown, "test");
        var received = new List<long>();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromSeconds(30));

        var reading = Task.Run(async () =>
        {
            await foreach (var agentEvent in agent.Client.WatchEventsAsync(0, cancel.Token))
            {
                received.Add(agentEvent.Id);
                if (received.Count == 1)
                {
                    // A slow reader: the agent records many events meanwhile.
                    await Task.Delay(1000, cancel.Token);
                }

                if (received.Count == 201)
                {
                    return;
                }
            }
        }, cancel.Token);
        for (var attempt = 0; attempt < 100 && events.SubscriberCount == 0; attempt++)
        {
            await Task.Delay(20, Ct);
        }

        await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => events.RecordAsync("local", instance, InstanceEventKind.Started, PowerState.Running, "test")));
        await reading;

        Assert.Equal(Enumerable.Range(1, 201).Select(i => (long)i), received);
        Assert.Contains(agent.Logs.Entries, entry => entry.EventId.Id == 3004);
    }
}
