using Microsoft.Extensions.Time.Testing;

namespace Hypervisors.Fake.Tests;

/// <summary>Fault injection: latency, chosen errors once or always, and a dropped connection.</summary>
public sealed class FakeFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InstanceSpec Spec(string name) => new() { Id = Guid.NewGuid(), Name = name, VCpus = 1, MemoryMiB = 64 };

    [Fact]
    public async Task The_faults_object_is_reachable_through_options_and_get_service()
    {
        var options = new FakeHypervisorOptions();
        await using var driver = new FakeHypervisorDriver(options);
        Assert.Same(options.Faults, driver.GetService<FakeFaults>());
        Assert.Same(options.Faults, driver.Faults);
        Assert.Same(options, driver.GetService<FakeHypervisorOptions>());
        Assert.Same(driver, driver.GetService<FakeHypervisorDriver>());
        Assert.Null(driver.GetService<FakeFaults>("some-key"));
    }

    [Fact]
    public async Task Latency_holds_a_call_until_the_clock_passes_it()
    {
        var clock = new FakeTimeProvider();
        var options = new FakeHypervisorOptions { TimeProvider = clock };
        options.Faults.SetLatency(InstanceOperation.Create, TimeSpan.FromSeconds(3));
        await using var driver = new FakeHypervisorDriver(options);

        var create = driver.CreateInstanceAsync(Spec("slow"), Ct);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(create.IsCompleted);
        clock.Advance(TimeSpan.FromSeconds(1));
        var info = await create;
        Assert.Equal("slow", info.Name);
        Assert.NotEmpty(await driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task A_call_waiting_out_latency_can_be_cancelled_and_changes_nothing()
    {
        var clock = new FakeTimeProvider();
        var options = new FakeHypervisorOptions { TimeProvider = clock };
        options.Faults.SetLatency(TimeSpan.FromMinutes(1));
        await using var driver = new FakeHypervisorDriver(options);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var create = driver.CreateInstanceAsync(Spec("never"), cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => create);
        options.Faults.SetLatency(TimeSpan.Zero);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task Fail_next_throws_the_chosen_error_once()
    {
        await using var driver = new FakeHypervisorDriver();
        driver.Faults.FailNext(InstanceOperation.Create, () => new HypervisorTimeoutException("took too long"));
        var spec = Spec("once");
        var ex = await Assert.ThrowsAsync<HypervisorTimeoutException>(() => driver.CreateInstanceAsync(spec, Ct));
        Assert.True(ex.IsTransient);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
        Assert.Equal(spec.Id, (await driver.CreateInstanceAsync(spec, Ct)).Id);
    }

    [Fact]
    public async Task Fail_always_throws_until_cleared_and_touches_only_that_operation()
    {
        await using var driver = new FakeHypervisorDriver();
        var info = await driver.CreateInstanceAsync(Spec("always"), Ct);
        driver.Faults.FailAlways(InstanceOperation.Start, () => new HypervisorException(HypervisorErrorKind.Unknown, "boom"));
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<HypervisorException>(() => driver.StartInstanceAsync(info.Id, Ct));
        }

        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
        driver.Faults.ClearFailure(InstanceOperation.Start);
        await driver.StartInstanceAsync(info.Id, Ct);
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
    }

    [Fact]
    public async Task A_dropped_connection_fails_every_call_as_unavailable_until_restored()
    {
        await using var driver = new FakeHypervisorDriver();
        var info = await driver.CreateInstanceAsync(Spec("net"), Ct);
        driver.Faults.Disconnect();
        Assert.True(driver.Faults.IsDisconnected);
        Func<Task>[] calls =
        [
            () => driver.GetHostInfoAsync(Ct),
            () => driver.ListInstancesAsync(Ct),
            () => driver.GetInstanceAsync(info.Id, Ct),
            () => driver.StartInstanceAsync(info.Id, Ct),
            () => driver.DeleteInstanceAsync(info.Id, Ct),
            () => driver.CreateInstanceAsync(Spec("other"), Ct),
            () => driver.GetConsoleOutputAsync(info.Id, Ct),
            () => Task.FromResult(driver.WatchEventsAsync(Ct)),
        ];
        foreach (var call in calls)
        {
            var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(call);
            Assert.True(ex.IsTransient);
        }

        driver.Faults.Reconnect();
        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
        Assert.Single(await driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task Reset_removes_every_fault()
    {
        await using var driver = new FakeHypervisorDriver();
        driver.Faults.Disconnect().FailAlways(InstanceOperation.ListInstances, () => new HypervisorException("x")).SetLatency(TimeSpan.FromHours(1));
        driver.Faults.Reset();
        Assert.Empty(await driver.ListInstancesAsync(Ct));
    }
}
