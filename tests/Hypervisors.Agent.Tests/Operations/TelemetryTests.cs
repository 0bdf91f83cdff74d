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
        // A driver name of its own: the SDK's meter is process-wide, and other tests' agents run beside this one.
        var driver = "metrics" + Guid.NewGuid().ToString("N")[..8];
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { [$"Agent:Drivers:{driver}:Kind"] = "fake" });
        var ct = TestContext.Current.CancellationToken;
        await agent.Client.CreateInstanceAsync(driver, Guid.NewGuid(), Specs.Small("metrics-1", start: true), TimeSpan.FromSeconds(30), ct);
        await agent.Client.ListInstancesAsync(driver, ct);
        await EventStreamTests.WaitForEventsAsync(agent, 2);
        await agent.Service<PowerStateSync>().SyncOnceAsync(ct);

        var lines = (await agent.Http.GetStringAsync("/metrics", ct)).Split('\n');

        bool Has(string name, params string[] labels) =>
            lines.Any(line => line.StartsWith(name + "{", StringComparison.Ordinal) && labels.All(label => line.Contains(label, StringComparison.Ordinal)));
        Assert.True(Has("hypervisors_operations_total", $"hypervisor_driver=\"{driver}\"", "hypervisor_operation=\"Create\""), "driver calls");
        Assert.True(Has("hypervisors_operation_duration_seconds_count", $"hypervisor_driver=\"{driver}\"", "hypervisor_operation=\"ListInstances\""), "driver call durations");
        Assert.True(Has("hypervisors_agent_instances", $"driver=\"{driver}\"", "power_state=\"Running\"", "} 1"), "instances by state");
        Assert.True(Has("hypervisors_agent_operations_total", $"driver=\"{driver}\"", "kind=\"create\"", "state=\"Succeeded\"", "} 1"), "operations");
        Assert.True(lines.Any(line => line.StartsWith("http_server_request_duration_seconds", StringComparison.Ordinal)), "requests");
        Assert.DoesNotContain(lines, line => line.StartsWith("hypervisors_agent_driver_calls", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_driver_call_is_traced_as_a_child_of_the_api_request()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Hypervisors" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var driver = "traced" + Guid.NewGuid().ToString("N")[..8];
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { [$"Agent:Drivers:{driver}:Kind"] = "fake" });

        await agent.Client.GetHostAsync(driver, TestContext.Current.CancellationToken);

        var driverCall = stopped.Last(a => a.Source.Name == "Hypervisors" && a.OperationName == "GetHostInfo" && (string?)a.GetTagItem("hypervisor.driver") == driver);
        var request = stopped.Single(a => a.Source.Name == "Microsoft.AspNetCore" && a.SpanId == driverCall.ParentSpanId);
        Assert.Equal(request.TraceId, driverCall.TraceId);
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
