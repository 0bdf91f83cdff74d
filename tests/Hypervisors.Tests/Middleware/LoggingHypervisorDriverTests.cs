using Hypervisors.Fake;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Hypervisors.Tests;

public sealed class LoggingHypervisorDriverTests
{
    private const string SecretValue = "s3cr3t-token-value";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InstanceSpec Spec() => new()
    {
        Id = Guid.NewGuid(),
        Name = "logged",
        VCpus = 2,
        MemoryMiB = 128,
        Metadata = new Dictionary<string, string> { ["password"] = SecretValue },
    };

    [Fact]
    public async Task A_create_logs_its_shape_with_numbered_events_and_never_metadata_values()
    {
        var logger = new FakeLogger();
        await using var driver = new LoggingHypervisorDriver(new FakeHypervisorDriver(), logger, "local");
        var spec = Spec();
        var info = await driver.CreateInstanceAsync(spec, Ct);
        Assert.Equal(spec.Id, info.Id);

        var records = logger.Collector.GetSnapshot();
        Assert.Equal([6, 1, 2], records.Select(r => r.Id.Id));
        Assert.Equal(LogLevel.Information, records[0].Level);
        Assert.Contains("'logged' (2 vCPUs, 128 MiB, 0 disks, 0 interfaces, 1 metadata entries", records[0].Message, StringComparison.Ordinal);
        Assert.Contains("Create completed", records[2].Message, StringComparison.Ordinal);
        Assert.All(records, r => Assert.DoesNotContain(SecretValue, r.Message, StringComparison.Ordinal));
        Assert.All(records, r => Assert.DoesNotContain(SecretValue, string.Join(",", r.StructuredState!.Select(p => p.Value)), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_typed_failure_is_a_warning_with_its_kind_and_still_throws()
    {
        var logger = new FakeLogger();
        await using var driver = new LoggingHypervisorDriver(new FakeHypervisorDriver(), logger, "local");
        var id = Guid.NewGuid();
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.StartInstanceAsync(id, Ct));
        var failed = logger.LatestRecord;
        Assert.Equal(3, failed.Id.Id);
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Contains("Start failed", failed.Message, StringComparison.Ordinal);
        Assert.Contains("NotFound (InstanceNotFoundException", failed.Message, StringComparison.Ordinal);
        Assert.Contains(id.ToString(), failed.Message, StringComparison.Ordinal);
        Assert.Null(failed.Exception);
    }

    [Fact]
    public async Task A_cancelled_call_is_logged_as_canceled()
    {
        var logger = new FakeLogger();
        await using var driver = new LoggingHypervisorDriver(new FakeHypervisorDriver(), logger);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => driver.ListInstancesAsync(new CancellationToken(canceled: true)));
        Assert.Equal(4, logger.LatestRecord.Id.Id);
        Assert.Contains("Hypervisor Fake: ListInstances canceled", logger.LatestRecord.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_untyped_exception_is_an_error_with_the_exception()
    {
        var logger = new FakeLogger();
        var inner = new FakeHypervisorDriver();
        await using var driver = new LoggingHypervisorDriver(new Throwing(inner), logger);
        await Assert.ThrowsAsync<InvalidOperationException>(() => driver.GetHostInfoAsync(Ct));
        Assert.Equal(5, logger.LatestRecord.Id.Id);
        Assert.Equal(LogLevel.Error, logger.LatestRecord.Level);
        Assert.IsType<InvalidOperationException>(logger.LatestRecord.Exception);
    }

    [Fact]
    public async Task An_event_watch_logs_its_start_and_end_with_the_count()
    {
        var logger = new FakeLogger();
        await using var driver = new LoggingHypervisorDriver(new FakeHypervisorDriver(), logger);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var seen = 0;
        var watch = driver.WatchEventsAsync(cts.Token);
        await driver.CreateInstanceAsync(Spec(), Ct);
        await foreach (var _ in watch)
        {
            seen++;
            break;
        }

        Assert.Equal(1, seen);
        var ids = logger.Collector.GetSnapshot().Select(r => r.Id.Id).ToList();
        Assert.Equal(7, ids[0]);
        Assert.Equal(8, ids[^1]);
        Assert.Contains("after 1 events", logger.LatestRecord.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Use_logging_wraps_registered_drivers_with_the_containers_loggers()
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddFakeLogging().SetMinimumLevel(LogLevel.Debug));
        services.AddHypervisors(h => h.AddFake("local").UseLogging());
        await using var provider = services.BuildServiceProvider();
        var driver = provider.GetRequiredKeyedService<IHypervisorDriver>("local");
        Assert.IsType<LoggingHypervisorDriver>(driver);
        await driver.ListInstancesAsync(Ct);
        var record = provider.GetFakeLogCollector().LatestRecord;
        Assert.Equal("Hypervisors.LoggingHypervisorDriver", record.Category);
        Assert.Contains("Hypervisor local: ListInstances completed", record.Message, StringComparison.Ordinal);
    }

    private sealed class Throwing(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
    {
        public override Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
            Task.FromException<HostInfo>(new InvalidOperationException("bug"));
    }
}
