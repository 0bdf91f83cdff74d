using System.Diagnostics;
using Hypervisors.Fake;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Hypervisors.Tests;

public sealed class OpenTelemetryHypervisorDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string UniqueName() => "otel-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Each_call_counts_once_and_records_a_duration_tagged_with_type_operation_and_error()
    {
        var name = UniqueName();
        using var operations = new MetricCollector<long>(null, OpenTelemetryHypervisorDriver.SourceName, "hypervisors.operations");
        using var durations = new MetricCollector<double>(null, OpenTelemetryHypervisorDriver.SourceName, "hypervisors.operation.duration");
        await using var driver = new OpenTelemetryHypervisorDriver(new FakeHypervisorDriver(), name);

        await driver.ListInstancesAsync(Ct);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.PauseInstanceAsync(Guid.NewGuid(), Ct));

        var mine = operations.GetMeasurementSnapshot().Where(m => Equals(m.Tags["hypervisor.driver"], name)).ToList();
        Assert.Equal(2, mine.Count);
        Assert.All(mine, m => Assert.Equal(1, m.Value));
        Assert.All(mine, m => Assert.Equal("Fake", m.Tags["hypervisor.type"]));
        Assert.Equal("ListInstances", mine[0].Tags["hypervisor.operation"]);
        Assert.False(mine[0].Tags.ContainsKey("error.type"));
        Assert.Equal("Pause", mine[1].Tags["hypervisor.operation"]);
        Assert.Equal("NotFound", mine[1].Tags["error.type"]);

        var timed = durations.GetMeasurementSnapshot().Where(m => Equals(m.Tags["hypervisor.driver"], name)).ToList();
        Assert.Equal(2, timed.Count);
        Assert.All(timed, m => Assert.True(m.Value >= 0));
    }

    [Fact]
    public async Task Each_call_is_a_client_activity_with_its_tags_and_error_status()
    {
        var name = UniqueName();
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == OpenTelemetryHypervisorDriver.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (Equals(a.GetTagItem("hypervisor.driver"), name))
                {
                    lock (activities)
                    {
                        activities.Add(a);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var driver = new OpenTelemetryHypervisorDriver(new FakeHypervisorDriver(), name);

        var info = await driver.CreateInstanceAsync(new InstanceSpec { Id = Guid.NewGuid(), Name = "traced", VCpus = 1, MemoryMiB = 64 }, Ct);
        await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.UnpauseInstanceAsync(info.Id, Ct));

        Assert.Equal(["Create", "Unpause"], activities.Select(a => a.DisplayName));
        Assert.All(activities, a => Assert.Equal(ActivityKind.Client, a.Kind));
        Assert.Equal(info.Id.ToString(), activities[0].GetTagItem("hypervisor.instance.id"));
        Assert.Equal(ActivityStatusCode.Unset, activities[0].Status);
        Assert.Equal(ActivityStatusCode.Error, activities[1].Status);
        Assert.Equal("InvalidPowerState", activities[1].GetTagItem("error.type"));
    }

    [Fact]
    public async Task Watched_events_are_counted_by_kind()
    {
        var name = UniqueName();
        using var events = new MetricCollector<long>(null, OpenTelemetryHypervisorDriver.SourceName, "hypervisors.events");
        await using var driver = new OpenTelemetryHypervisorDriver(new FakeHypervisorDriver(), name);
        await using var watch = driver.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct);
        await driver.CreateInstanceAsync(new InstanceSpec { Id = Guid.NewGuid(), Name = "counted", VCpus = 1, MemoryMiB = 64, StartAfterCreate = true }, Ct);
        Assert.True(await watch.MoveNextAsync());
        Assert.True(await watch.MoveNextAsync());
        var mine = events.GetMeasurementSnapshot().Where(m => Equals(m.Tags["hypervisor.driver"], name)).Select(m => m.Tags["hypervisor.event"]).ToList();
        Assert.Equal(["Created", "Started"], mine);
    }

    [Fact]
    public async Task Use_open_telemetry_wraps_the_logging_decorator_when_added_after_it()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddFake("traced").UseLogging().UseOpenTelemetry());
        await using var provider = services.BuildServiceProvider();
        var driver = provider.GetRequiredKeyedService<IHypervisorDriver>("traced");
        Assert.IsType<OpenTelemetryHypervisorDriver>(driver);
        Assert.NotNull(driver.GetService<LoggingHypervisorDriver>());
        Assert.NotNull(driver.GetService<FakeFaults>());
        Assert.Equal(FakeHypervisorDriver.HypervisorTypeName, driver.Capabilities.HypervisorType);
    }
}
