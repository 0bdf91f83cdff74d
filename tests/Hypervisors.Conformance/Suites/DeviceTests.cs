namespace Hypervisors.Conformance;

/// <summary>Devices: volumes and interfaces attach and detach, console output, snapshots (each capability-gated).</summary>
public abstract class DeviceTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Device_listing_shows_the_disks_and_interfaces_of_the_spec()
    {
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
        await using var instance = await CreateInstanceAsync();
        var devices = await Driver.GetDevicesAsync(instance.Id, Ct);
        Assert.Equal(instance.Spec.Disks.Count, devices.Disks.Count);
        Assert.Equal(instance.Spec.NetworkInterfaces.Count, devices.NetworkInterfaces.Count);
        Assert.Empty(devices.Volumes);
        foreach (var nic in instance.Spec.NetworkInterfaces.Where(n => n.MacAddress is not null))
        {
            Assert.Contains(devices.NetworkInterfaces, n => n.MacAddress == InstanceSpecValidator.NormalizeMac(nic.MacAddress!));
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Attaching_a_volume_makes_it_visible_and_detaching_removes_it()
    {
        RequireVolumes();
        await using var instance = await CreateInstanceAsync();
        var volume = Fixture.CreateVolumeSpec("kit-vol-1");
        var attachment = await Driver.AttachVolumeAsync(instance.Id, volume, Ct);
        Assert.Equal(volume.VolumeId, attachment.VolumeId);
        Assert.False(string.IsNullOrEmpty(attachment.Device), "The attachment names no guest device.");
        var devices = await Driver.GetDevicesAsync(instance.Id, Ct);
        var listed = Assert.Single(devices.Volumes, v => v.VolumeId == volume.VolumeId);
        Assert.Equal(attachment.Device, listed.Device);

        await Driver.DetachVolumeAsync(instance.Id, volume.VolumeId, Ct);
        Assert.DoesNotContain((await Driver.GetDevicesAsync(instance.Id, Ct)).Volumes, v => v.VolumeId == volume.VolumeId);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Attaching_the_same_volume_twice_throws_already_exists()
    {
        RequireVolumes();
        await using var instance = await CreateInstanceAsync();
        var volume = Fixture.CreateVolumeSpec("kit-vol-2");
        await Driver.AttachVolumeAsync(instance.Id, volume, Ct);
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.AttachVolumeAsync(instance.Id, volume, Ct), "attaching the same volume id twice");
        Assert.Single((await Driver.GetDevicesAsync(instance.Id, Ct)).Volumes, v => v.VolumeId == volume.VolumeId);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Detaching_an_unknown_volume_throws_device_not_found()
    {
        RequireCapability(Capabilities.SupportsVolumeAttach, nameof(DriverCapabilities.SupportsVolumeAttach));
        await using var instance = await CreateInstanceAsync();
        var ex = await KitAssert.ThrowsAsync<DeviceNotFoundException>(() => Driver.DetachVolumeAsync(instance.Id, "kit-no-such-volume", Ct), "detaching a volume that is not attached");
        Assert.Equal("kit-no-such-volume", ex.DeviceId);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Attaching_an_interface_makes_it_visible_by_mac_and_detaching_removes_it()
    {
        RequireCapability(Capabilities.SupportsInterfaceAttach, nameof(DriverCapabilities.SupportsInterfaceAttach));
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
        await using var instance = await CreateInstanceAsync();
        var mac = NewMacAddress();
        var attached = await Driver.AttachInterfaceAsync(instance.Id, new NetworkInterfaceSpec(Fixture.NetworkName, mac.ToUpperInvariant()), Ct);
        Assert.Equal(mac, attached.MacAddress);
        Assert.Equal(Fixture.NetworkName, attached.Network);
        Assert.Single((await Driver.GetDevicesAsync(instance.Id, Ct)).NetworkInterfaces, n => n.MacAddress == mac);

        await Driver.DetachInterfaceAsync(instance.Id, mac, Ct);
        Assert.DoesNotContain((await Driver.GetDevicesAsync(instance.Id, Ct)).NetworkInterfaces, n => n.MacAddress == mac);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Detaching_an_unknown_interface_throws_device_not_found()
    {
        RequireCapability(Capabilities.SupportsInterfaceAttach, nameof(DriverCapabilities.SupportsInterfaceAttach));
        await using var instance = await CreateInstanceAsync();
        await KitAssert.ThrowsAsync<DeviceNotFoundException>(() => Driver.DetachInterfaceAsync(instance.Id, NewMacAddress(), Ct), "detaching an interface that is not attached");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Console_output_of_a_running_instance_can_be_read()
    {
        RequireCapability(Capabilities.SupportsConsoleOutput, nameof(DriverCapabilities.SupportsConsoleOutput));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        var output = await Driver.GetConsoleOutputAsync(instance.Id, Ct);
        Assert.NotNull(output.Text);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Console_output_of_an_unknown_instance_throws_instance_not_found()
    {
        RequireCapability(Capabilities.SupportsConsoleOutput, nameof(DriverCapabilities.SupportsConsoleOutput));
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetConsoleOutputAsync(Guid.NewGuid(), Ct), "console output of an unknown id");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_snapshot_is_listed_after_create_and_gone_after_delete()
    {
        RequireCapability(Capabilities.SupportsSnapshots, nameof(DriverCapabilities.SupportsSnapshots));
        await using var instance = await CreateInstanceAsync();
        var first = await Driver.CreateSnapshotAsync(instance.Id, "kit-snap-1", Ct);
        var second = await Driver.CreateSnapshotAsync(instance.Id, "kit-snap-2", Ct);
        Assert.Equal("kit-snap-1", first.Name);
        Assert.Equal(PowerState.Shutdown, first.PowerStateAtSnapshot);
        Assert.NotEqual(first.SnapshotId, second.SnapshotId);
        var listed = await Driver.ListSnapshotsAsync(instance.Id, Ct);
        Assert.Equal(["kit-snap-1", "kit-snap-2"], listed.Select(s => s.Name));

        await Driver.DeleteSnapshotAsync(instance.Id, first.SnapshotId, Ct);
        var after = await Driver.ListSnapshotsAsync(instance.Id, Ct);
        Assert.Equal([second.SnapshotId], after.Select(s => s.SnapshotId));
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Deleting_an_unknown_snapshot_throws_device_not_found()
    {
        RequireCapability(Capabilities.SupportsSnapshots, nameof(DriverCapabilities.SupportsSnapshots));
        await using var instance = await CreateInstanceAsync();
        await KitAssert.ThrowsAsync<DeviceNotFoundException>(() => Driver.DeleteSnapshotAsync(instance.Id, "kit-no-such-snapshot", Ct), "deleting a snapshot that does not exist");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Detaching_one_of_two_volumes_leaves_the_other()
    {
        RequireVolumes();
        await using var instance = await CreateInstanceAsync();
        var first = await Driver.AttachVolumeAsync(instance.Id, Fixture.CreateVolumeSpec("kit-vol-pair-1"), Ct);
        var second = await Driver.AttachVolumeAsync(instance.Id, Fixture.CreateVolumeSpec("kit-vol-pair-2"), Ct);
        Assert.True(first.Device != second.Device, $"Two volumes were given the same guest device {first.Device}.");
        await Driver.DetachVolumeAsync(instance.Id, first.VolumeId, Ct);
        var volumes = (await Driver.GetDevicesAsync(instance.Id, Ct)).Volumes;
        Assert.DoesNotContain(volumes, v => v.VolumeId == first.VolumeId);
        var kept = Assert.Single(volumes, v => v.VolumeId == second.VolumeId);
        Assert.Equal(second.Device, kept.Device);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Detaching_one_of_two_interfaces_leaves_the_other()
    {
        RequireCapability(Capabilities.SupportsInterfaceAttach, nameof(DriverCapabilities.SupportsInterfaceAttach));
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
        await using var instance = await CreateInstanceAsync();
        var first = await Driver.AttachInterfaceAsync(instance.Id, new NetworkInterfaceSpec(Fixture.NetworkName, NewMacAddress()), Ct);
        var second = await Driver.AttachInterfaceAsync(instance.Id, new NetworkInterfaceSpec(Fixture.NetworkName, NewMacAddress()), Ct);
        await Driver.DetachInterfaceAsync(instance.Id, first.MacAddress, Ct);
        var nics = (await Driver.GetDevicesAsync(instance.Id, Ct)).NetworkInterfaces;
        Assert.DoesNotContain(nics, n => n.MacAddress == first.MacAddress);
        Assert.Single(nics, n => n.MacAddress == second.MacAddress);
        Assert.Equal(instance.Spec.NetworkInterfaces.Count + 1, nics.Count);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Devices_attached_to_one_instance_do_not_show_on_another()
    {
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
        RequireCapability(Capabilities.SupportsVolumeAttach || Capabilities.SupportsInterfaceAttach, "SupportsVolumeAttach or SupportsInterfaceAttach");
        await using var first = await CreateInstanceAsync();
        await using var second = await CreateInstanceAsync();
        var before = await Driver.GetDevicesAsync(second.Id, Ct);
        if (Capabilities.SupportsVolumeAttach)
        {
            var volume = await Driver.AttachVolumeAsync(first.Id, Fixture.CreateVolumeSpec("kit-vol-apart"), Ct);
            Assert.DoesNotContain((await Driver.GetDevicesAsync(second.Id, Ct)).Volumes, v => v.VolumeId == volume.VolumeId);
            await KitAssert.ThrowsAsync<DeviceNotFoundException>(() => Driver.DetachVolumeAsync(second.Id, volume.VolumeId, Ct), "detaching another instance's volume");
            Assert.Single((await Driver.GetDevicesAsync(first.Id, Ct)).Volumes, v => v.VolumeId == volume.VolumeId);
        }

        if (Capabilities.SupportsInterfaceAttach)
        {
            var nic = await Driver.AttachInterfaceAsync(first.Id, new NetworkInterfaceSpec(Fixture.NetworkName, NewMacAddress()), Ct);
            Assert.DoesNotContain((await Driver.GetDevicesAsync(second.Id, Ct)).NetworkInterfaces, n => n.MacAddress == nic.MacAddress);
            await KitAssert.ThrowsAsync<DeviceNotFoundException>(() => Driver.DetachInterfaceAsync(second.Id, nic.MacAddress, Ct), "detaching another instance's interface");
            Assert.Single((await Driver.GetDevicesAsync(first.Id, Ct)).NetworkInterfaces, n => n.MacAddress == nic.MacAddress);
        }

        var after = await Driver.GetDevicesAsync(second.Id, Ct);
        Assert.Equal(before.Disks.Count, after.Disks.Count);
        Assert.Equal(before.Volumes.Count, after.Volumes.Count);
        Assert.Equal(before.NetworkInterfaces.Count, after.NetworkInterfaces.Count);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Snapshots_of_two_instances_are_kept_apart()
    {
        RequireCapability(Capabilities.SupportsSnapshots, nameof(DriverCapabilities.SupportsSnapshots));
        await using var first = await CreateInstanceAsync();
        await using var second = await CreateInstanceAsync();
        var mine = await Driver.CreateSnapshotAsync(first.Id, "kit-snap-mine", Ct);
        var theirs = await Driver.CreateSnapshotAsync(second.Id, "kit-snap-theirs", Ct);
        Assert.Equal([mine.SnapshotId], (await Driver.ListSnapshotsAsync(first.Id, Ct)).Select(s => s.SnapshotId));
        Assert.Equal([theirs.SnapshotId], (await Driver.ListSnapshotsAsync(second.Id, Ct)).Select(s => s.SnapshotId));
        await KitAssert.ThrowsAsync<DeviceNotFoundException>(() => Driver.DeleteSnapshotAsync(second.Id, mine.SnapshotId, Ct), "deleting another instance's snapshot");
        Assert.Equal([mine.SnapshotId], (await Driver.ListSnapshotsAsync(first.Id, Ct)).Select(s => s.SnapshotId));

        await Driver.DeleteInstanceAsync(first.Id, Ct);
        Assert.Equal([theirs.SnapshotId], (await Driver.ListSnapshotsAsync(second.Id, Ct)).Select(s => s.SnapshotId));
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_snapshot_records_the_power_state_it_was_taken_in()
    {
        RequireCapability(Capabilities.SupportsSnapshots, nameof(DriverCapabilities.SupportsSnapshots));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        var snapshot = await Driver.CreateSnapshotAsync(instance.Id, "kit-snap-running", Ct);
        Assert.Equal(PowerState.Running, snapshot.PowerStateAtSnapshot);
        var listed = Assert.Single(await Driver.ListSnapshotsAsync(instance.Id, Ct));
        Assert.Equal(PowerState.Running, listed.PowerStateAtSnapshot);
        Assert.Equal(snapshot.SnapshotId, listed.SnapshotId);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "taking a snapshot of a running instance", Ct);
    }

    private void RequireVolumes()
    {
        RequireCapability(Capabilities.SupportsVolumeAttach, nameof(DriverCapabilities.SupportsVolumeAttach));
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
    }
}
