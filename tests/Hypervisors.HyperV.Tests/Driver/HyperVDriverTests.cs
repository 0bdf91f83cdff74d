using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;
using HyperVSimulator;
using HyperVSimulator.Virtualization;

namespace Hypervisors.HyperV.Tests;

/// <summary>What the kit does not reach: disks and NICs on the wire, rollback, injected job failures, the graceful
/// stop's fallback, the index across driver instances, and VMs the driver does not manage.</summary>
public sealed class HyperVDriverTests : IAsyncLifetime
{
    private HyperVSimulatorServer _server = null!;
    private HyperVDriver _driver = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await HyperVSimulatorServer.StartAsync(cancellationToken: Ct);
        _driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
    }

    public async ValueTask DisposeAsync()
    {
        await _driver.DisposeAsync();
        await _server.DisposeAsync();
    }

    private static InstanceSpec Spec(string name, Func<InstanceSpec, InstanceSpec>? adjust = null)
    {
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = name, VCpus = 2, MemoryMiB = 128 };
        return adjust is null ? spec : adjust(spec);
    }

    [Fact]
    public async Task Disks_and_interfaces_are_made_on_the_host_listed_as_devices_and_removed_with_the_instance()
    {
        var spec = Spec("devices", s => s with
        {
            Disks = [new DiskSpec(8), new DiskSpec(20, @"C:\Images\base.vhdx")],
            NetworkInterfaces = [new NetworkInterfaceSpec("default", "00:15:5D:0A:0B:0C"), new NetworkInterfaceSpec("External")],
        });
        await _driver.CreateInstanceAsync(spec, Ct);

        var devices = await _driver.GetDevicesAsync(spec.Id, Ct);
        Assert.Equal(["scsi0:0", "scsi0:1"], devices.Disks.Select(d => d.Device));
        Assert.Equal([8L, 20L], devices.Disks.Select(d => d.SizeGiB));
        Assert.Equal([null, @"C:\Images\base.vhdx"], devices.Disks.Select(d => d.ImageRef));
        Assert.All(devices.Disks, d => Assert.True(_server.Host.FileExists(d.Path!), $"{d.Path} should exist on the host."));
        Assert.Equal(["default", "External"], devices.NetworkInterfaces.Select(n => n.Network));
        Assert.Equal("00:15:5d:0a:0b:0c", devices.NetworkInterfaces[0].MacAddress);
        Assert.Matches("^00:15:5d(:[0-9a-f]{2}){3}$", devices.NetworkInterfaces[1].MacAddress);

        await _driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.All(devices.Disks, d => Assert.False(_server.Host.FileExists(d.Path!), $"{d.Path} should be deleted with the instance."));
        Assert.True(_server.Host.FileExists(@"C:\Images\base.vhdx"), "The parent image must survive.");
        Assert.Equal(0, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task An_unknown_switch_or_image_is_a_spec_error_that_leaves_nothing_behind()
    {
        var badSwitch = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            _driver.CreateInstanceAsync(Spec("bad-switch", s => s with { NetworkInterfaces = [new NetworkInterfaceSpec("no-such-switch")] }), Ct));
        Assert.Equal("spec.NetworkInterfaces[0].Network", badSwitch.Field);
        var badImage = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            _driver.CreateInstanceAsync(Spec("bad-image", s => s with { Disks = [new DiskSpec(1, @"C:\Images\missing.vhdx")] }), Ct));
        Assert.Equal("spec.Disks[0].ImageRef", badImage.Field);
        Assert.Equal(0, _server.Host.VirtualMachineCount);
        Assert.Empty(await _driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task A_failed_job_midway_through_create_rolls_the_vm_and_its_disks_back()
    {
        var spec = Spec("rollback", s => s with { Disks = [new DiskSpec(4)] });
        _server.Host.Behavior.FailNextJob(new InjectedJobFailure("AddResourceSettings", 32768, "The controller could not be added."));
        var ex = await Assert.ThrowsAnyAsync<HypervisorException>(() => _driver.CreateInstanceAsync(spec, Ct));
        Assert.Equal("rv:32768", ex.NativeCode);
        Assert.Contains("The controller could not be added.", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, _server.Host.VirtualMachineCount);
        Assert.False(_server.Host.FileExists(@"C:\Kit\Disks\rollback-" + spec.Id.ToString("N")[..8] + @"\disk0.vhdx"));

        // The id and name are free again.
        await _driver.CreateInstanceAsync(spec, Ct);
        Assert.Equal(1, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task A_start_job_failing_for_memory_is_insufficient_resources_and_the_vm_stays_off()
    {
        var spec = Spec("no-memory");
        await _driver.CreateInstanceAsync(spec, Ct);
        _server.Host.Behavior.FailNextJob(new InjectedJobFailure("RequestStateChange", 32778, "Not enough memory in the system to start the virtual machine."));
        var ex = await Assert.ThrowsAsync<InsufficientResourcesException>(() => _driver.StartInstanceAsync(spec.Id, Ct));
        Assert.Equal("rv:32778", ex.NativeCode);
        Assert.Equal(PowerState.Shutdown, (await _driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
    }

    [Fact]
    public async Task The_simulator_refuses_to_start_more_memory_than_the_host_has()
    {
        var spec = Spec("too-big", s => s with { MemoryMiB = 300 * 1024 });
        await _driver.CreateInstanceAsync(spec, Ct);
        await Assert.ThrowsAsync<InsufficientResourcesException>(() => _driver.StartInstanceAsync(spec.Id, Ct));
    }

    [Fact]
    public async Task A_graceful_stop_uses_the_shutdown_component_and_falls_back_to_power_off_when_the_guest_ignores_it()
    {
        var spec = Spec("stopper");
        await _driver.CreateInstanceAsync(spec, Ct);
        await _driver.StartInstanceAsync(spec.Id, Ct);
        _server.Host.Behavior.GuestShutdownDelay = TimeSpan.FromMilliseconds(50);
        await _driver.StopInstanceAsync(spec.Id, TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(PowerState.Shutdown, (await _driver.GetInstanceAsync(spec.Id, Ct)).PowerState);

        await _driver.StartInstanceAsync(spec.Id, Ct);
        _server.Host.Behavior.GuestsHonorShutdown = false;
        await _driver.StopInstanceAsync(spec.Id, TimeSpan.FromMilliseconds(300), Ct);
        Assert.Equal(PowerState.Shutdown, (await _driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
    }

    [Fact]
    public async Task Power_operations_map_to_hyper_v_states_and_the_contract_rules_hold_where_hyper_v_is_laxer()
    {
        var spec = Spec("states");
        await _driver.CreateInstanceAsync(spec, Ct);
        await _driver.StartInstanceAsync(spec.Id, Ct);
        Assert.Equal(2, _server.Host.EnabledStateOf("states"));
        await _driver.PauseInstanceAsync(spec.Id, Ct);
        Assert.Equal(9, _server.Host.EnabledStateOf("states"));
        await _driver.UnpauseInstanceAsync(spec.Id, Ct);
        await _driver.SuspendInstanceAsync(spec.Id, Ct);
        Assert.Equal(6, _server.Host.EnabledStateOf("states"));

        // Hyper-V would restore a saved VM on RequestStateChange(2); the contract's Start does not accept Suspended.
        var ex = await Assert.ThrowsAsync<InvalidPowerStateException>(() => _driver.StartInstanceAsync(spec.Id, Ct));
        Assert.Equal(PowerState.Suspended, ex.CurrentState);
        Assert.Equal(6, _server.Host.EnabledStateOf("states"));

        await _driver.ResumeInstanceAsync(spec.Id, Ct);
        await _driver.RebootInstanceAsync(spec.Id, RebootKind.Hard, Ct);
        Assert.Equal(2, _server.Host.EnabledStateOf("states"));
        await _driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.Equal(0, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task Hyper_v_refusing_a_transition_with_32775_becomes_invalid_power_state_with_the_state_read_back()
    {
        var spec = Spec("busy");
        await _driver.CreateInstanceAsync(spec, Ct);
        await _driver.StartInstanceAsync(spec.Id, Ct);

        // Hold the VM in a job so Hyper-V refuses the next transition, as it does while a state change is in progress.
        _server.Host.Behavior.JobDuration = TimeSpan.FromSeconds(5);
        var session = (WmiSession)_driver.GetService(typeof(WmiSession))!;
        var vmGuid = (await _driver.GetInstanceAsync(spec.Id, Ct)).NativeId!;
        var system = WmiSession.Reference(WmiSession.Virtualization, "Msvm_ComputerSystem", ("CreationClassName", "Msvm_ComputerSystem"), ("Name", vmGuid));
        var pending = await session.Client.InvokeAsync(system, "RequestStateChange", [new("RequestedState", "9")], Ct);
        Assert.Equal(4096UL, pending.GetUInt64("ReturnValue"));

        var ex = await Assert.ThrowsAsync<InvalidPowerStateException>(() => _driver.PowerOffInstanceAsync(spec.Id, Ct));
        Assert.Equal(PowerState.Running, ex.CurrentState);
        Assert.Equal("rv:32775", ex.NativeCode);
    }

    [Fact]
    public async Task A_vm_deleted_by_another_client_while_a_call_is_in_flight_is_instance_not_found_with_the_id()
    {
        var spec = Spec("vanishing");
        await _driver.CreateInstanceAsync(spec, Ct);
        _server.Host.Behavior.ResetRequestCounts();
        using (_server.Host.Behavior.Hold("RequestStateChange", TimeSpan.FromMilliseconds(500)))
        {
            var start = _driver.StartInstanceAsync(spec.Id, Ct);
            while (_server.Host.Behavior.RequestCounts.GetValueOrDefault("RequestStateChange") == 0)
            {
                await Task.Delay(5, Ct);
            }

            Assert.True(_server.Host.DeleteVirtualMachine("vanishing"));
            var ex = await Assert.ThrowsAsync<InstanceNotFoundException>(() => start);
            Assert.Equal(spec.Id, ex.InstanceId);
            Assert.Equal(InstanceOperation.Start, ex.Operation);
            Assert.Equal("cim:6", ex.NativeCode);
            Assert.IsType<WsManException>(ex.InnerException);
        }

        var again = await Assert.ThrowsAsync<InstanceNotFoundException>(() => _driver.PowerOffInstanceAsync(spec.Id, Ct));
        Assert.Equal(spec.Id, again.InstanceId);
    }

    [Fact]
    public async Task A_vm_deleted_by_another_client_before_delete_is_instance_not_found_with_the_id()
    {
        var spec = Spec("gone-before-delete");
        await _driver.CreateInstanceAsync(spec, Ct);
        Assert.True(_server.Host.DeleteVirtualMachine("gone-before-delete"));
        var ex = await Assert.ThrowsAsync<InstanceNotFoundException>(() => _driver.DeleteInstanceAsync(spec.Id, Ct));
        Assert.Equal(spec.Id, ex.InstanceId);
        Assert.Equal(InstanceOperation.Delete, ex.Operation);
    }

    [Fact]
    public async Task Delete_turns_a_running_vm_off_first_even_when_the_driver_did_not_see_it_start()
    {
        var spec = Spec("started-elsewhere");
        await _driver.CreateInstanceAsync(spec, Ct);
        await using (var other = new HyperVDriver(HyperVFixture.OptionsFor(_server)))
        {
            await other.StartInstanceAsync(spec.Id, Ct);
        }

        // This driver last saw the VM off, so it sends DestroySystem at once; Hyper-V answers 32775 and the VM is turned off first.
        await _driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.Equal(0, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task A_second_driver_finds_the_instances_and_ignores_vms_it_did_not_make()
    {
        var spec = Spec("shared", s => s with { Metadata = new Dictionary<string, string> { ["owner"] = "team-a" } });
        await _driver.CreateInstanceAsync(spec, Ct);
        _server.Host.AddVirtualMachine("made-by-hand", enabledState: 2);

        await using var second = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var info = await second.GetInstanceAsync(spec.Id, Ct);
        Assert.Equal("shared", info.Name);
        Assert.Equal("team-a", info.Metadata["owner"]);
        Assert.Equal([spec.Id], (await second.ListInstancesAsync(Ct)).Select(i => i.Id));

        // Idempotent across drivers: the same spec returns the instance; a different one under the same id is refused.
        Assert.Equal(spec.Id, (await second.CreateInstanceAsync(spec, Ct)).Id);
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => second.CreateInstanceAsync(spec with { VCpus = 4 }, Ct));
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => second.CreateInstanceAsync(Spec("shared"), Ct));
        Assert.Equal(2, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task Host_info_comes_from_the_win32_classes()
    {
        var host = await _driver.GetHostInfoAsync(Ct);
        var options = _server.Host.Options;
        Assert.Equal("Hyper-V", host.HypervisorType);
        Assert.Equal("10.0.20348", host.HypervisorVersion);
        Assert.Equal(options.HostName, host.HostName);
        Assert.Equal(options.LogicalProcessors, host.VCpusTotal);
        Assert.Equal(options.MemoryMiB, host.MemoryMiBTotal);
        Assert.Equal(options.DiskGiB, host.LocalDiskGiBTotal);
        Assert.Equal(new CpuInfo("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "Intel", "x86_64", 1, options.Cores, options.LogicalProcessors / options.Cores, 2000), host.Cpu);
        Assert.InRange(host.Uptime, TimeSpan.FromDays(2.9), TimeSpan.FromDays(3.1));
    }

    [Fact]
    public async Task Changes_made_by_another_client_arrive_as_events_through_the_poll()
    {
        var options = HyperVFixture.OptionsFor(_server);
        options.EventPollInterval = TimeSpan.FromMilliseconds(100);
        await using var watcher = new HyperVDriver(options);
        var existing = Spec("before-watch");
        await _driver.CreateInstanceAsync(existing, Ct);
        var watched = Spec("watched");
        await _driver.CreateInstanceAsync(watched, Ct);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(20));
        var events = new List<InstanceEvent>();
        await using var stream = watcher.WatchEventsAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        var next = stream.MoveNextAsync().AsTask();

        // Another driver (another client, as far as the watcher knows) starts the VM, then deletes a second one.
        await Task.Delay(300, Ct);
        await _driver.StartInstanceAsync(watched.Id, Ct);
        await _driver.DeleteInstanceAsync(existing.Id, Ct);
        while (events.Count < 2 && await next)
        {
            events.Add(stream.Current);
            next = stream.MoveNextAsync().AsTask();
        }

        Assert.Contains(events, e => e is { Kind: InstanceEventKind.Started, PowerState: PowerState.Running } && e.InstanceId == watched.Id);
        Assert.Contains(events, e => e is { Kind: InstanceEventKind.Deleted } && e.InstanceId == existing.Id);
        Assert.DoesNotContain(events, e => e.Kind == InstanceEventKind.Created);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
    }

    [Fact]
    public async Task Interfaces_attach_to_a_running_vm_on_a_named_switch_and_a_taken_mac_or_unknown_switch_is_refused()
    {
        var spec = Spec("hot-nic", s => s with { NetworkInterfaces = [new NetworkInterfaceSpec("default", "52:54:00:00:00:01")] });
        await _driver.CreateInstanceAsync(spec, Ct);
        await _driver.StartInstanceAsync(spec.Id, Ct);
        var attached = await _driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("External"), Ct);
        Assert.Equal("External", attached.Network);
        Assert.Equal("nic1", attached.Device);
        Assert.Equal(["52:54:00:00:00:01", attached.MacAddress], (await _driver.GetDevicesAsync(spec.Id, Ct)).NetworkInterfaces.Select(n => n.MacAddress));

        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => _driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("default", "52:54:00:00:00:01"), Ct));
        var badSwitch = await Assert.ThrowsAsync<InvalidSpecException>(() => _driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("nowhere"), Ct));
        Assert.Equal("networkInterface.Network", badSwitch.Field);

        await _driver.DetachInterfaceAsync(spec.Id, "52:54:00:00:00:01", Ct);
        Assert.Equal([attached.MacAddress], (await _driver.GetDevicesAsync(spec.Id, Ct)).NetworkInterfaces.Select(n => n.MacAddress));
        await Assert.ThrowsAsync<DeviceNotFoundException>(() => _driver.DetachInterfaceAsync(spec.Id, "52:54:00:00:00:01", Ct));
    }

    [Fact]
    public async Task Volumes_go_on_the_scsi_controller_after_the_disks_keep_read_only_and_a_missing_file_is_a_spec_error()
    {
        var spec = Spec("with-volume", s => s with { Disks = [new DiskSpec(2)] });
        await _driver.CreateInstanceAsync(spec, Ct);
        _server.Host.AddHostFile(@"C:\Volumes\data.vhdx", 1L << 30);
        var attached = await _driver.AttachVolumeAsync(spec.Id, new VolumeSpec("data", @"C:\Volumes\data.vhdx", ReadOnly: true), Ct);
        Assert.Equal(new VolumeAttachment("data", @"C:\Volumes\data.vhdx", "scsi0:1", true), attached);
        var devices = await _driver.GetDevicesAsync(spec.Id, Ct);
        Assert.Equal([attached], devices.Volumes);
        Assert.Equal(["scsi0:0"], devices.Disks.Select(d => d.Device));

        var missing = await Assert.ThrowsAsync<InvalidSpecException>(() => _driver.AttachVolumeAsync(spec.Id, new VolumeSpec("gone", @"C:\Volumes\gone.vhdx"), Ct));
        Assert.Equal("volume.Source", missing.Field);
        await _driver.DetachVolumeAsync(spec.Id, "data", Ct);
        Assert.Empty((await _driver.GetDevicesAsync(spec.Id, Ct)).Volumes);

        // Deleting the instance removes its own disk but never an attached volume's file.
        await _driver.AttachVolumeAsync(spec.Id, new VolumeSpec("data", @"C:\Volumes\data.vhdx"), Ct);
        await _driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.True(_server.Host.FileExists(@"C:\Volumes\data.vhdx"));
    }

    [Fact]
    public async Task Console_output_is_declared_unsupported()
    {
        Assert.False(_driver.Capabilities.SupportsConsoleOutput);
        await Assert.ThrowsAsync<OperationNotSupportedException>(() => _driver.GetConsoleOutputAsync(Guid.NewGuid(), Ct));
    }

    [Theory]
    [InlineData("rv:32775", HypervisorErrorKind.InvalidPowerState, typeof(HypervisorException))]
    [InlineData("rv:32778", HypervisorErrorKind.InsufficientResources, typeof(InsufficientResourcesException))]
    [InlineData("rv:32777", HypervisorErrorKind.Unavailable, typeof(HypervisorUnavailableException))]
    [InlineData("rv:32769", HypervisorErrorKind.AuthenticationFailed, typeof(HypervisorAuthenticationException))]
    [InlineData("rv:32772", HypervisorErrorKind.Timeout, typeof(HypervisorTimeoutException))]
    [InlineData("cim:6", HypervisorErrorKind.NotFound, typeof(HypervisorException))]
    [InlineData("rv:12345", HypervisorErrorKind.Unknown, typeof(HypervisorException))]
    public void The_error_table_gives_each_native_code_its_kind_and_type(string code, HypervisorErrorKind kind, Type type)
    {
        var wire = new WsManException(WsManFailure.MethodFailed, code, "test") { ClassName = "Msvm_VirtualSystemManagementService" };
        var ex = Assert.IsAssignableFrom<HypervisorException>(HyperVErrorTable.ToHypervisorException(wire, new OperationContext(InstanceOperation.ListInstances, null)));
        Assert.Equal(kind, ex.Kind);
        Assert.IsType(type, ex);
        Assert.Equal(code, ex.NativeCode);
    }

    [Fact]
    public void The_mapping_names_the_instance_for_a_missing_vm_and_reports_the_state_read_after_a_refusal()
    {
        var id = Guid.NewGuid();
        var missing = new WsManException(WsManFailure.Fault, "cim:6", "gone") { ClassName = "Msvm_ComputerSystem" };
        var notFound = Assert.IsType<InstanceNotFoundException>(HyperVErrorTable.ToHypervisorException(missing, new OperationContext(InstanceOperation.Start, id)));
        Assert.Equal((id, "cim:6"), (notFound.InstanceId!.Value, notFound.NativeCode));

        // Not found about something else (a file, a job) is no statement about the instance.
        var file = new WsManException(WsManFailure.Fault, "cim:6", "no file") { ClassName = "CIM_DataFile" };
        Assert.IsNotType<InstanceNotFoundException>(HyperVErrorTable.ToHypervisorException(file, new OperationContext(InstanceOperation.Start, id)));

        var refused = new WsManException(WsManFailure.MethodFailed, "rv:32775", "refused") { ClassName = "Msvm_ComputerSystem", ObservedState = PowerState.Paused };
        var invalid = Assert.IsType<InvalidPowerStateException>(HyperVErrorTable.ToHypervisorException(refused, new OperationContext(InstanceOperation.Pause, id)));
        Assert.Equal((id, PowerState.Paused, InstanceOperation.Pause), (invalid.InstanceId!.Value, invalid.CurrentState, invalid.RefusedOperation));

        var other = new InvalidOperationException("not a wire failure");
        Assert.Same(other, HyperVErrorTable.ToHypervisorException(other, new OperationContext(InstanceOperation.Start, id)));
    }
}
