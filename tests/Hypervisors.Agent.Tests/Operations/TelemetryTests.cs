using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Tests.Events;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Fake;

namespace Hypervisors.Agent.Tests.Operations;

public sealed class TelemetryTests
{
    [Fact]
    public async Task Metrics_count_requests_driver_calls_and_instances_by_state()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        await agent.Client.CreateInstanceAsync("local", Guid.NewGuid(), Specs.Small("metrics-1", start: true), TimeSpan.FromSeconds(30), ct);
        await agent.Client.ListInstancesAsync("local", ct);
        await EventStreamTests.WaitForEventsAsync(agent, 2);
        await agent.Service<PowerStateSync>().SyncOnceAsync(ct);

        var text = await agent.Http.GetStringAsync("/metrics", ct);

        Assert.Contains("hypervisors_agent_driver_calls_total{driver=\"local\",operation=\"Create\",outcome=\"ok\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("hypervisors_agent_driver_call_duration_seconds_count{driver=\"local\",operation=\"ListInstances\"}", text, StringComparison.Ordinal);
        Assert.Contains("hypervisors_agent_instances{driver=\"local\",power_state=\"Running\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("hypervisors_agent_operations_total{driver=\"local\",kind=\"create\",state=\"Succeeded\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("http_requests_received_total", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_driver_call_is_traced_as_a_child_of_the_api_request()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Hypervisors.Agent" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var agent = await TestAgent.StartAsync();

        await agent.Client.GetHostAsync("local", TestContext.Current.CancellationToken);

        var driverCall = stopped.Last(a => a.OperationName == "driver GetHostInfo");
        var request = stopped.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.SpanId == driverCall.ParentSpanId);
        Assert.Equal(request.TraceId, driverCall.TraceId);
        Assert.Equal("local", driverCall.GetTagItem("hypervisors.driver"));
    }

    [Fact]
    public async Task Health_is_live_always_and_ready_only_when_every_driver_answers()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;

        using var ready = await agent.Http.GetAsync("/healthz/ready", ct);
        agent.Driver().GetService<FakeFaults>()!.Disconnect();
        using var notReady = await agent.Http.GetAsync("/healthz/ready", ct);
        using var live = await agent.Http.GetAsync("/healthz", ct);

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task Log_messages_carry_numbered_event_ids()
    {
        await using var agent = await TestAgent.StartAsync();

        await agent.Client.CreateInstanceAsync("local", Guid.NewGuid(), Specs.Small("logs-1"), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var ids = agent.Logs.Entries.Where(e => e.Category.StartsWith("Hypervisors.Agent", StringComparison.Ordinal)).Select(e => e.EventId.Id).ToHashSet();
        Assert.Contains(1000, ids);
        Assert.Contains(1002, ids);
        Assert.Contains(2000, ids);
        Assert.Contains(2001, ids);
    }
}
