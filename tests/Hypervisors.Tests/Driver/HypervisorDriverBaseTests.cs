using Microsoft.Extensions.Time.Testing;

namespace Hypervisors.Tests;

public sealed class HypervisorDriverBaseTests
{
    private static readonly DriverCapabilities Minimal = new() { HypervisorType = "Test", SupportsDeviceListing = false };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> OptionalOperations => new()
    {
        "SoftReboot", "Pause", "Unpause", "Suspend", "Resume", "GetConsoleOutput", "GetDevices", "AttachVolume", "DetachVolume",
        "AttachInterface", "DetachInterface", "CreateSnapshot", "ListSnapshots", "DeleteSnapshot", "WatchEvents",
    };

    [Theory]
    [MemberData(nameof(OptionalOperations))]
    public async Task An_undeclared_optional_operation_throws_not_supported_before_the_driver_runs(string operation)
    {
        await using var driver = new RecordingDriver(Minimal);
        var id = driver.Add(PowerState.Running);
        var ex = await Assert.ThrowsAsync<OperationNotSupportedException>(() => Call(driver, operation, id));
        Assert.Equal(Enum.Parse<InstanceOperation>(operation), ex.Operation);
        Assert.Equal(HypervisorErrorKind.NotSupported, ex.Kind);
        Assert.Contains("Test driver", ex.Message, StringComparison.Ordinal);
        Assert.Empty(driver.Calls);
    }

    [Theory]
    [MemberData(nameof(OptionalOperations))]
    public async Task A_declared_optional_operation_that_is_not_overridden_still_throws_not_supported(string operation)
    {
        var all = Minimal with
        {
            SupportsSoftReboot = false, SupportsPause = true, SupportsSuspend = true, SupportsConsoleOutput = true, SupportsDeviceListing = true,
            SupportsVolumeAttach = true, SupportsInterfaceAttach = true, SupportsSnapshots = true, SupportsEvents = true,
        };
        await using var driver = new RecordingDriver(all);
        var id = driver.Add(PowerState.Running);
        await Assert.ThrowsAsync<OperationNotSupportedException>(() => Call(driver, operation, id));
    }

    [Fact]
    public async Task Kernel_boot_and_image_disks_are_refused_unless_declared()
    {
        await using var driver = new RecordingDriver(Minimal);
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "k", VCpus = 1, MemoryMiB = 64 };
        var kernel = await Assert.ThrowsAsync<OperationNotSupportedException>(() => driver.CreateInstanceAsync(spec with { KernelBoot = new KernelBootSpec("/boot/vmlinuz") }, Ct));
        Assert.Contains("kernel", kernel.Message, StringComparison.Ordinal);
        var image = await Assert.ThrowsAsync<OperationNotSupportedException>(() => driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, "/img")] }, Ct));
        Assert.Contains("image", image.Message, StringComparison.Ordinal);
        Assert.Empty(driver.Calls);
    }

    [Fact]
    public async Task Invalid_arguments_are_refused_before_the_driver_runs()
    {
        await using var driver = new RecordingDriver(Minimal);
        var id = driver.Add(PowerState.Running);
        Assert.Equal("spec.VCpus", (await Assert.ThrowsAsync<InvalidSpecException>(() =>
            driver.CreateInstanceAsync(new InstanceSpec { Id = Guid.NewGuid(), Name = "x", VCpus = 0, MemoryMiB = 64 }, Ct))).Field);
        Assert.Equal("instanceId", (await Assert.ThrowsAsync<InvalidSpecException>(() => driver.StartInstanceAsync(Guid.Empty, Ct))).Field);
        Assert.Equal("gracefulTimeout", (await Assert.ThrowsAsync<InvalidSpecException>(() => driver.StopInstanceAsync(id, TimeSpan.FromSeconds(-1), Ct))).Field);
        Assert.Equal("gracefulTimeout", (await Assert.ThrowsAsync<InvalidSpecException>(() => driver.StopInstanceAsync(id, TimeSpan.FromHours(2), Ct))).Field);
        Assert.Equal("kind", (await Assert.ThrowsAsync<InvalidSpecException>(() => driver.RebootInstanceAsync(id, (RebootKind)7, Ct))).Field);
        Assert.Empty(driver.Calls);
    }

    [Fact]
    public async Task An_already_cancelled_token_is_refused_before_the_driver_runs()
    {
        await using var driver = new RecordingDriver(Minimal);
        var id = driver.Add(PowerState.Shutdown);
        var cancelled = new CancellationToken(canceled: true);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => driver.StartInstanceAsync(id, cancelled));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => driver.ListInstancesAsync(cancelled));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => driver.GetHostInfoAsync(cancelled));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => driver.CreateInstanceAsync(new InstanceSpec { Id = Guid.NewGuid(), Name = "c", VCpus = 1, MemoryMiB = 64 }, cancelled));
        Assert.Empty(driver.Calls);
    }

    [Fact]
    public async Task Calls_after_dispose_throw_object_disposed_and_dispose_runs_once()
    {
        var driver = new RecordingDriver(Minimal);
        await driver.DisposeAsync();
        await driver.DisposeAsync();
        Assert.Equal(1, driver.DisposeCount);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => driver.ListInstancesAsync(Ct));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => driver.StartInstanceAsync(Guid.NewGuid(), Ct));
        Assert.Throws<ObjectDisposedException>(() => driver.WatchEventsAsync(Ct));
        Assert.Empty(driver.Calls);
    }

    [Fact]
    public async Task A_graceful_stop_powers_off_hard_once_the_timeout_passes()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new RecordingDriver(Minimal, clock);
        var id = driver.Add(PowerState.Running);
        var stop = driver.StopInstanceAsync(id, TimeSpan.FromSeconds(5), Ct);
        await AdvanceUntilAsync(clock, stop);
        await stop;
        Assert.True(clock.GetUtcNow() - clock.Start >= TimeSpan.FromSeconds(5));
        Assert.Equal("RequestShutdownCoreAsync", driver.Calls[1]);
        Assert.Equal("PowerOffInstanceCoreAsync", driver.Calls[^1]);
        Assert.Single(driver.Calls, c => c == "PowerOffInstanceCoreAsync");
    }

    [Fact]
    public async Task A_state_read_that_outlasts_the_graceful_timeout_still_ends_in_a_power_off()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new RecordingDriver(Minimal, clock);
        var id = driver.Add(PowerState.Running);
        var reads = 0;
        driver.OnGetInstance = () =>
        {
            // The first poll takes longer than the whole timeout.
            if (++reads == 2)
            {
                clock.Advance(TimeSpan.FromSeconds(6));
            }
        };
        await driver.StopInstanceAsync(id, TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("PowerOffInstanceCoreAsync", driver.Calls[^1]);
    }

    [Fact]
    public async Task A_graceful_stop_that_the_guest_honours_never_powers_off()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new RecordingDriver(Minimal, clock) { GuestHonoursShutdown = true };
        var id = driver.Add(PowerState.Running);
        await driver.StopInstanceAsync(id, TimeSpan.FromSeconds(5), Ct);
        Assert.DoesNotContain("PowerOffInstanceCoreAsync", driver.Calls);
        Assert.Equal(clock.Start, clock.GetUtcNow());
    }

    [Fact]
    public async Task A_guest_that_shuts_down_during_the_wait_is_not_powered_off()
    {
        var clock = new FakeTimeProvider();
        await using var driver = new RecordingDriver(Minimal, clock);
        var id = driver.Add(PowerState.Running);
        var stop = driver.StopInstanceAsync(id, TimeSpan.FromSeconds(60), Ct);
        clock.Advance(TimeSpan.FromSeconds(1));
        driver.Set(id, PowerState.Shutdown);
        await AdvanceUntilAsync(clock, stop);
        await stop;
        Assert.DoesNotContain("PowerOffInstanceCoreAsync", driver.Calls);
        Assert.True(clock.GetUtcNow() - clock.Start < TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_zero_timeout_or_a_paused_instance_is_powered_off_at_once_and_a_stopped_one_is_refused()
    {
        await using var driver = new RecordingDriver(Minimal);
        var running = driver.Add(PowerState.Running);
        await driver.StopInstanceAsync(running, TimeSpan.Zero, Ct);
        Assert.DoesNotContain("RequestShutdownCoreAsync", driver.Calls);
        var paused = driver.Add(PowerState.Paused);
        await driver.StopInstanceAsync(paused, TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(2, driver.Calls.Count(c => c == "PowerOffInstanceCoreAsync"));
        var ex = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.StopInstanceAsync(running, TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(PowerState.Shutdown, ex.CurrentState);
    }

    [Fact]
    public async Task Get_service_returns_the_driver_itself_and_nothing_else()
    {
        await using var driver = new RecordingDriver(Minimal);
        Assert.Same(driver, driver.GetService<HypervisorDriverBase>());
        Assert.Null(driver.GetService<HypervisorDriverBase>("key"));
        Assert.Null(driver.GetService<string>());
    }

    private static async Task AdvanceUntilAsync(FakeTimeProvider clock, Task task)
    {
        for (var steps = 0; !task.IsCompleted; steps++)
        {
            Assert.True(steps < 10_000, "The operation never finished.");
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }
    }

    private static Task Call(IHypervisorDriver driver, string operation, Guid id) => operation switch
    {
        "SoftReboot" => driver.RebootInstanceAsync(id, RebootKind.Soft, Ct),
        "Pause" => driver.PauseInstanceAsync(id, Ct),
        "Unpause" => driver.UnpauseInstanceAsync(id, Ct),
        "Suspend" => driver.SuspendInstanceAsync(id, Ct),
        "Resume" => driver.ResumeInstanceAsync(id, Ct),
        "GetConsoleOutput" => driver.GetConsoleOutputAsync(id, Ct),
        "GetDevices" => driver.GetDevicesAsync(id, Ct),
        "AttachVolume" => driver.AttachVolumeAsync(id, new VolumeSpec("v", "/dev/v"), Ct),
        "DetachVolume" => driver.DetachVolumeAsync(id, "v", Ct),
        "AttachInterface" => driver.AttachInterfaceAsync(id, new NetworkInterfaceSpec("n"), Ct),
        "DetachInterface" => driver.DetachInterfaceAsync(id, "52:54:00:00:00:01", Ct),
        "CreateSnapshot" => driver.CreateSnapshotAsync(id, "s", Ct),
        "ListSnapshots" => driver.ListSnapshotsAsync(id, Ct),
        "DeleteSnapshot" => driver.DeleteSnapshotAsync(id, "s", Ct),
        "WatchEvents" => Task.Run(async () =>
        {
            await foreach (var _ in driver.WatchEventsAsync(Ct))
            {
                break;
            }
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, null),
    };
}
