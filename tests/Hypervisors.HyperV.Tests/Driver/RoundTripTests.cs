using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// The round trips of each operation, counted by the simulator, as the table in the driver's README states them. A
/// change that adds a WS-Man call to an operation fails here. Jobs finish at once (JobDuration zero), so every job
/// takes exactly one poll (Get).
/// </summary>
public sealed class RoundTripTests : IAsyncLifetime
{
    private HyperVSimulatorServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await HyperVSimulatorServer.StartAsync(cancellationToken: Ct);
        _server.Host.Behavior.JobDuration = TimeSpan.Zero;
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static InstanceSpec Spec(string name) => new() { Id = Guid.NewGuid(), Name = name, VCpus = 1, MemoryMiB = 64 };

    private async Task<Dictionary<string, int>> CountAsync(Func<Task> operation)
    {
        _server.Host.Behavior.ResetRequestCounts();
        await operation();
        return _server.Host.Behavior.RequestCounts.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    private static Dictionary<string, int> Calls(params (string Action, int Count)[] calls) =>
        calls.OrderBy(c => c.Action, StringComparer.Ordinal).ToDictionary(c => c.Action, c => c.Count, StringComparer.Ordinal);

    [Fact]
    public async Task The_lifecycle_sends_eleven_requests_per_instance_once_the_driver_is_warm()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));

        // Cold: the index (4 enumerations) and the management service (1) are read once, by the first create.
        var first = Spec("first");
        Assert.Equal(Calls(("Enumerate", 6), ("DefineSystem", 1), ("ModifyResourceSettings", 1), ("Get", 2)),
            await CountAsync(() => driver.CreateInstanceAsync(first, Ct)));

        var spec = Spec("counted");
        InstanceInfo? created = null;
        Assert.Equal(Calls(("Enumerate", 1), ("DefineSystem", 1), ("ModifyResourceSettings", 1), ("Get", 2)),
            await CountAsync(async () => created = await driver.CreateInstanceAsync(spec, Ct)));
        Assert.Equal((PowerState.Shutdown, 1, 64L, "counted"), (created!.PowerState, created.VCpus, created.MemoryMiB, created.Name));
        Assert.NotNull(created.NativeId);

        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.StartInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("Enumerate", 4)), await CountAsync(() => driver.ListInstancesAsync(Ct)));
        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.PowerOffInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("DestroySystem", 1), ("Get", 1)), await CountAsync(() => driver.DeleteInstanceAsync(spec.Id, Ct)));

        // What the created instance's info said matches what Hyper-V holds.
        var listed = Assert.Single(await driver.ListInstancesAsync(Ct));
        Assert.Equal((first.Id, PowerState.Shutdown, 1, 64L), (listed.Id, listed.PowerState, listed.VCpus, listed.MemoryMiB));
    }

    [Fact]
    public async Task Refused_transitions_cost_one_state_read_and_a_running_vm_is_turned_off_before_destroy()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("refusals");
        await driver.CreateInstanceAsync(spec, Ct);
        await driver.StartInstanceAsync(spec.Id, Ct);

        // Pause: Hyper-V refuses exactly what the contract refuses, so there is no read before the call.
        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.PauseInstanceAsync(spec.Id, Ct)));
        var counted = await CountAsync(async () =>
        {
            var ex = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.PauseInstanceAsync(spec.Id, Ct));
            Assert.Equal((PowerState.Paused, "rv:32775"), (ex.CurrentState, ex.NativeCode));
        });
        Assert.Equal(Calls(("RequestStateChange", 1), ("Enumerate", 1)), counted);

        // Unpause sends RequestStateChange(2), which Hyper-V also takes from Off; the driver last saw Paused, so no read.
        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.UnpauseInstanceAsync(spec.Id, Ct)));

        // Delete of a VM the driver saw running: turn off, then destroy.
        Assert.Equal(Calls(("RequestStateChange", 1), ("DestroySystem", 1), ("Get", 2)), await CountAsync(() => driver.DeleteInstanceAsync(spec.Id, Ct)));
        Assert.Equal(0, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task Parallel_first_creates_look_the_management_service_and_the_index_up_once()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var specs = Enumerable.Range(0, 8).Select(i => Spec("parallel-" + i)).ToList();
        var counted = await CountAsync(() => Task.WhenAll(specs.Select(s => driver.CreateInstanceAsync(s, Ct))));

        // 4 index enumerations + 1 service lookup + one ASSOCIATORS query per VM.
        Assert.Equal(Calls(("Enumerate", 4 + 1 + 8), ("DefineSystem", 8), ("ModifyResourceSettings", 8), ("Get", 16)), counted);
    }

    [Fact]
    public async Task Snapshots_take_the_new_snapshot_from_the_job_and_read_no_state_the_driver_knows()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("snapshots");
        await driver.CreateInstanceAsync(spec, Ct);
        await driver.StartInstanceAsync(spec.Id, Ct);

        // Cold: the snapshot service is looked up once (1 Enumerate), then never again.
        Assert.Equal(Calls(("Enumerate", 2), ("CreateSnapshot", 1), ("ModifySystemSettings", 1), ("Get", 2)),
            await CountAsync(() => driver.CreateSnapshotAsync(spec.Id, "first", Ct)));

        // Warm: CreateSnapshot + job poll, the job's affected element (1 Enumerate), ModifySystemSettings + job poll.
        // Before: a state read first and a Get of the snapshot after, 6 requests.
        SnapshotInfo? created = null;
        Assert.Equal(Calls(("Enumerate", 1), ("CreateSnapshot", 1), ("ModifySystemSettings", 1), ("Get", 2)),
            await CountAsync(async () => created = await driver.CreateSnapshotAsync(spec.Id, "second", Ct)));

        IReadOnlyList<SnapshotInfo> listed = [];
        Assert.Equal(Calls(("Enumerate", 1)), await CountAsync(async () => listed = await driver.ListSnapshotsAsync(spec.Id, Ct)));
        var second = Assert.Single(listed, s => s.SnapshotId == created!.SnapshotId);
        Assert.Equal(("second", PowerState.Running, second.CreatedAt), (created!.Name, created.PowerStateAtSnapshot, created.CreatedAt));
        Assert.NotEqual(DateTimeOffset.MinValue, created.CreatedAt);

        Assert.Equal(Calls(("Enumerate", 1), ("DestroySnapshot", 1), ("Get", 1)), await CountAsync(() => driver.DeleteSnapshotAsync(spec.Id, created.SnapshotId, Ct)));
        Assert.Equal(["first"], (await driver.ListSnapshotsAsync(spec.Id, Ct)).Select(s => s.Name));
    }

    [Fact]
    public async Task A_snapshot_of_a_vm_in_a_transition_is_refused_by_hyperv_and_the_state_is_read_only_for_the_error()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        await using var other = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("busy-snapshot");
        await driver.CreateInstanceAsync(spec, Ct);
        await driver.CreateSnapshotAsync(spec.Id, "warm", Ct);

        // Another client starts the VM and its job never ends: the VM stays Starting (EnabledState 10).
        _server.Host.Behavior.JobDuration = Timeout.InfiniteTimeSpan;
        using (var gaveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => other.StartInstanceAsync(spec.Id, gaveUp.Token));
        }

        var counted = await CountAsync(async () =>
        {
            var refused = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.CreateSnapshotAsync(spec.Id, "refused", Ct));
            Assert.Equal((PowerState.Running, "rv:32775", InstanceOperation.CreateSnapshot), (refused.CurrentState, refused.NativeCode, refused.Operation));
        });
        Assert.Equal(Calls(("CreateSnapshot", 1), ("Enumerate", 1)), counted);
        Assert.Equal(["warm"], (await driver.ListSnapshotsAsync(spec.Id, Ct)).Select(s => s.Name));
    }

    [Fact]
    public async Task Volumes_cost_one_read_of_the_vm_resources_and_one_call_per_setting()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("volumes");
        await driver.CreateInstanceAsync(spec, Ct);
        _server.Host.AddHostFile(@"C:\Volumes\a.vhdx", 1L << 30);
        _server.Host.AddHostFile(@"C:\Volumes\b.vhdx", 1L << 30);

        // No SCSI controller yet: it is added first.
        Assert.Equal(Calls(("Enumerate", 1), ("AddResourceSettings", 3), ("Get", 3)),
            await CountAsync(() => driver.AttachVolumeAsync(spec.Id, new VolumeSpec("a", @"C:\Volumes\a.vhdx"), Ct)));
        VolumeAttachment? attached = null;
        Assert.Equal(Calls(("Enumerate", 1), ("AddResourceSettings", 2), ("Get", 2)),
            await CountAsync(async () => attached = await driver.AttachVolumeAsync(spec.Id, new VolumeSpec("b", @"C:\Volumes\b.vhdx", ReadOnly: true), Ct)));
        Assert.Equal(new VolumeAttachment("b", @"C:\Volumes\b.vhdx", "scsi0:1", true), attached);

        Assert.Equal(Calls(("Enumerate", 1), ("RemoveResourceSettings", 1), ("Get", 1)), await CountAsync(() => driver.DetachVolumeAsync(spec.Id, "a", Ct)));
        Assert.Equal(["b"], (await driver.GetDevicesAsync(spec.Id, Ct)).Volumes.Select(v => v.VolumeId));
    }

    [Fact]
    public async Task Interfaces_read_the_port_back_only_for_a_mac_hyperv_picked()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("interfaces");
        await driver.CreateInstanceAsync(spec, Ct);

        // The switch and the VM's ports are read together; port, then its connection; the MAC given is the MAC set.
        // Before: a Get of the port after, whatever the MAC.
        NetworkInterfaceInfo? fixedMac = null;
        Assert.Equal(Calls(("Enumerate", 2), ("AddResourceSettings", 2), ("Get", 2)),
            await CountAsync(async () => fixedMac = await driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("default", "02:AA:bb:00:00:01"), Ct)));
        Assert.Equal(new NetworkInterfaceInfo("02:aa:bb:00:00:01", "default", "nic0"), fixedMac);

        // Hyper-V picks the MAC: AddResourceSettings answers with a reference only, so the port is read (+1 Get).
        NetworkInterfaceInfo? picked = null;
        Assert.Equal(Calls(("Enumerate", 2), ("AddResourceSettings", 2), ("Get", 3)),
            await CountAsync(async () => picked = await driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("default"), Ct)));
        Assert.Matches("^00:15:5d(:[0-9a-f]{2}){3}$", picked!.MacAddress);
        Assert.Equal("nic1", picked.Device);
        var devices = await driver.GetDevicesAsync(spec.Id, Ct);
        Assert.Equal([fixedMac!, picked], devices.NetworkInterfaces);

        Assert.Equal(Calls(("Enumerate", 1), ("RemoveResourceSettings", 1), ("Get", 1)),
            await CountAsync(() => driver.DetachInterfaceAsync(spec.Id, "02:aa:bb:00:00:01", Ct)));
        Assert.Equal([picked], (await driver.GetDevicesAsync(spec.Id, Ct)).NetworkInterfaces);
    }

    [Fact]
    public async Task Host_info_sends_eight_enumerations_together()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("host");
        await driver.CreateInstanceAsync(spec with { VCpus = 2, StartAfterCreate = true }, Ct);

        HostInfo? host = null;
        Assert.Equal(Calls(("Enumerate", 8)), await CountAsync(async () => host = await driver.GetHostInfoAsync(Ct)));
        Assert.Equal(2, host!.VCpusUsed);
        Assert.Equal("Hyper-V", host.HypervisorType);
    }
}
