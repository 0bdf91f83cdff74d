using Microsoft.Extensions.Time.Testing;

namespace Hypervisors.Fake.Tests;

/// <summary>What the fake simulates beyond the kit: console, crashes, CPU time, graceful stop, options.</summary>
public sealed class FakeBehaviourTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InstanceSpec Spec(string name, bool start = false) => new()
    {
        Id = Guid.NewGuid(),
        Name = name,
        VCpus = 2,
        MemoryMiB = 256,
        Disks = [new DiskSpec(10)],
        NetworkInterfaces = [new NetworkInterfaceSpec("br0", "52:54:00:AA:BB:CC")],
        StartAfterCreate = start,
    };

    [Fact]
    public async Task Console_output_is_a_boot_log_of_the_instance_and_grows_with_each_boot()
    {
        await using var driver = new FakeHypervisorDriver();
        var info = await driver.CreateInstanceAsync(Spec("web-1", start: true), Ct);
        var first = await driver.GetConsoleOutputAsync(info.Id, Ct);
        Assert.Contains("Allowing 2 CPUs", first.Text, StringComparison.Ordinal);
        Assert.Contains("[vda]", first.Text, StringComparison.Ordinal);
        Assert.EndsWith("web-1 login: ", first.Text, StringComparison.Ordinal);
        Assert.False(first.Truncated);

        await driver.RebootInstanceAsync(info.Id, RebootKind.Hard, Ct);
        var second = await driver.GetConsoleOutputAsync(info.Id, Ct);
        Assert.StartsWith(first.Text, second.Text, StringComparison.Ordinal);
        Assert.Contains("boot 2", second.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Console_output_keeps_only_the_newest_characters_and_says_so()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { ConsoleOutputLimit = 300 });
        var info = await driver.CreateInstanceAsync(Spec("tiny", start: true), Ct);
        await driver.RebootInstanceAsync(info.Id, RebootKind.Soft, Ct);
        var output = await driver.GetConsoleOutputAsync(info.Id, Ct);
        Assert.Equal(300, output.Text.Length);
        Assert.True(output.Truncated);
        Assert.EndsWith("tiny login: ", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_crashed_instance_reports_crashed_publishes_it_and_can_be_started_again()
    {
        await using var driver = new FakeHypervisorDriver();
        var info = await driver.CreateInstanceAsync(Spec("crashy", start: true), Ct);
        await using var events = driver.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct);
        driver.SimulateCrash(info.Id);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal((InstanceEventKind.Crashed, PowerState.Crashed), (events.Current.Kind, events.Current.PowerState));
        Assert.Equal(PowerState.Crashed, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
        Assert.Equal(0, (await driver.GetHostInfoAsync(Ct)).VCpusUsed);
        await driver.StartInstanceAsync(info.Id, Ct);
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
        await driver.PowerOffInstanceAsync(info.Id, Ct);
        Assert.Throws<InvalidOperationException>(() => driver.SimulateCrash(info.Id));
    }

    [Fact]
    public async Task Cpu_time_grows_while_running_per_vcpu_and_restarts_at_boot()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { TimeProvider = clock });
        var info = await driver.CreateInstanceAsync(Spec("cpu", start: true), Ct);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(20), (await driver.GetInstanceAsync(info.Id, Ct)).CpuTime);
        await driver.PauseInstanceAsync(info.Id, Ct);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(20), (await driver.GetInstanceAsync(info.Id, Ct)).CpuTime);
        await driver.UnpauseInstanceAsync(info.Id, Ct);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(22), (await driver.GetInstanceAsync(info.Id, Ct)).CpuTime);
        await driver.RebootInstanceAsync(info.Id, RebootKind.Hard, Ct);
        Assert.Equal(TimeSpan.Zero, (await driver.GetInstanceAsync(info.Id, Ct)).CpuTime);
    }

    [Fact]
    public async Task A_guest_that_ignores_shutdown_is_powered_off_when_the_graceful_timeout_passes()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { TimeProvider = clock, GuestHonoursShutdown = false });
        var info = await driver.CreateInstanceAsync(Spec("stubborn", start: true), Ct);
        var stop = driver.StopInstanceAsync(info.Id, TimeSpan.FromSeconds(30), Ct);
        for (var steps = 0; !stop.IsCompleted; steps++)
        {
            Assert.True(steps < 10_000, "The stop never finished.");
            if (clock.GetUtcNow() - clock.Start < TimeSpan.FromSeconds(30))
            {
                Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
            }

            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }

        await stop;
        Assert.True(clock.GetUtcNow() - clock.Start >= TimeSpan.FromSeconds(30), $"Stopped after {clock.GetUtcNow() - clock.Start}.");
        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
    }

    [Fact]
    public async Task A_guest_that_honours_shutdown_stops_without_waiting()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { TimeProvider = clock });
        var info = await driver.CreateInstanceAsync(Spec("polite", start: true), Ct);
        await driver.StopInstanceAsync(info.Id, TimeSpan.FromMinutes(5), Ct);
        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(info.Id, Ct)).PowerState);
        Assert.Equal(clock.Start, clock.GetUtcNow());
    }

    [Fact]
    public async Task Devices_report_disks_and_normalized_macs_and_macs_are_unique_on_the_host()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { AllowedHostDirectories = { "/dev/vg" } });
        var info = await driver.CreateInstanceAsync(Spec("dev"), Ct);
        var devices = await driver.GetDevicesAsync(info.Id, Ct);
        Assert.Equal("vda", Assert.Single(devices.Disks).Device);
        var nic = Assert.Single(devices.NetworkInterfaces);
        Assert.Equal(("52:54:00:aa:bb:cc", "br0", "eth0"), (nic.MacAddress, nic.Network, nic.Device));
        var volume = await driver.AttachVolumeAsync(info.Id, new VolumeSpec("v1", "/dev/vg/v1"), Ct);
        Assert.Equal("vdb", volume.Device);

        var clash = Spec("dev2");
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.CreateInstanceAsync(clash, Ct));
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.AttachInterfaceAsync(info.Id, new NetworkInterfaceSpec("br0", "52-54-00-aa-bb-cc"), Ct));
        var generated = await driver.AttachInterfaceAsync(info.Id, new NetworkInterfaceSpec("br1"), Ct);
        Assert.True(InstanceSpecValidator.TryNormalizeMac(generated.MacAddress, out var normalized) && normalized == generated.MacAddress);
        Assert.Equal("eth1", generated.Device);
    }

    [Fact]
    public async Task Invalid_options_are_refused_with_every_problem_named()
    {
        var options = new FakeHypervisorOptions { VCpus = 0, MemoryMiB = 1, HostName = " ", ConsoleOutputLimit = 10 };
        options.Architectures.Clear();
        var ex = Assert.Throws<ArgumentException>(() => new FakeHypervisorDriver(options));
        foreach (var field in new[] { "VCpus", "MemoryMiB", "HostName", "ConsoleOutputLimit", "Architectures" })
        {
            Assert.Contains(field, ex.Message, StringComparison.Ordinal);
        }

        await Task.CompletedTask;
    }

    [Fact]
    public async Task Calls_after_dispose_throw_object_disposed_and_event_watches_end()
    {
        var driver = new FakeHypervisorDriver();
        var events = driver.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct);
        var next = events.MoveNextAsync();
        await driver.DisposeAsync();
        Assert.False(await next);
        await events.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => driver.ListInstancesAsync(Ct));
    }
}
