namespace Hypervisors.Conformance;

/// <summary>
/// What the contract says about operations that need the guest (<see cref="IHypervisorDriver"/>): a soft reboot, a
/// suspend or a hot-plug the guest cannot do is refused with <see cref="GuestFeatureUnavailableException"/> naming the instance and the
/// operation, and changes nothing. With <see cref="DriverFixture.GuestsCooperate"/> true, every one of them must work.
/// (A graceful stop never needs the guest: <see cref="LifecycleTests{TFixture}"/> checks it ends shut down either way.)
/// </summary>
public abstract class GuestCooperationTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_soft_reboot_works_on_a_cooperating_guest_and_is_refused_unchanged_on_one_that_cannot()
    {
        RequireCapability(Capabilities.SupportsSoftReboot, nameof(DriverCapabilities.SupportsSoftReboot));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        if (Fixture.GuestsCooperate)
        {
            await Driver.RebootInstanceAsync(instance.Id, RebootKind.Soft, Ct);
        }
        else
        {
            await AssertRefusedAsync(() => Driver.RebootInstanceAsync(instance.Id, RebootKind.Soft, Ct), instance.Id, InstanceOperation.SoftReboot);
        }

        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "a soft reboot", Ct);

        // The hard variant never needs the guest.
        await Driver.RebootInstanceAsync(instance.Id, RebootKind.Hard, Ct);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "a hard reboot", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_suspend_works_on_a_cooperating_guest_and_is_either_done_or_refused_unchanged_otherwise()
    {
        RequireCapability(Capabilities.SupportsSuspend, nameof(DriverCapabilities.SupportsSuspend));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        if (Fixture.GuestsCooperate)
        {
            await Driver.SuspendInstanceAsync(instance.Id, Ct);
            await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Suspended, "a suspend", Ct);
            return;
        }

        var refused = await IsRefusedAsync(() => Driver.SuspendInstanceAsync(instance.Id, Ct), instance.Id, InstanceOperation.Suspend);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, refused ? PowerState.Running : PowerState.Suspended, refused ? "a refused suspend" : "a suspend", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Hot_plugging_a_volume_attaches_it_or_is_refused_leaving_the_devices_as_they_were()
    {
        RequireCapability(Capabilities.SupportsVolumeAttach, nameof(DriverCapabilities.SupportsVolumeAttach));
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        var before = await Driver.GetDevicesAsync(instance.Id, Ct);
        var volume = Fixture.CreateVolumeSpec("kit-hotplug-vol");
        if (await AttachesAsync(() => Driver.AttachVolumeAsync(instance.Id, volume, Ct), instance.Id, InstanceOperation.AttachVolume))
        {
            Assert.Single((await Driver.GetDevicesAsync(instance.Id, Ct)).Volumes, v => v.VolumeId == volume.VolumeId);
            await Driver.DetachVolumeAsync(instance.Id, volume.VolumeId, Ct);
        }

        AssertSameDevices(before, await Driver.GetDevicesAsync(instance.Id, Ct));
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "hot-plugging a volume", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Hot_plugging_an_interface_attaches_it_or_is_refused_leaving_the_devices_as_they_were()
    {
        RequireCapability(Capabilities.SupportsInterfaceAttach, nameof(DriverCapabilities.SupportsInterfaceAttach));
        RequireCapability(Capabilities.SupportsDeviceListing, nameof(DriverCapabilities.SupportsDeviceListing));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        var before = await Driver.GetDevicesAsync(instance.Id, Ct);
        var mac = NewMacAddress();
        if (await AttachesAsync(() => Driver.AttachInterfaceAsync(instance.Id, new NetworkInterfaceSpec(Fixture.NetworkName, mac), Ct), instance.Id, InstanceOperation.AttachInterface))
        {
            Assert.Single((await Driver.GetDevicesAsync(instance.Id, Ct)).NetworkInterfaces, n => n.MacAddress == mac);
            await Driver.DetachInterfaceAsync(instance.Id, mac, Ct);
        }

        AssertSameDevices(before, await Driver.GetDevicesAsync(instance.Id, Ct));
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "hot-plugging an interface", Ct);
    }

    /// <summary>Runs an attach: true when it worked; false when a non-cooperating guest refused it as the contract says.</summary>
    private async Task<bool> AttachesAsync(Func<Task> attach, Guid instanceId, InstanceOperation operation)
    {
        if (Fixture.GuestsCooperate)
        {
            await attach();
            return true;
        }

        return !await IsRefusedAsync(attach, instanceId, operation);
    }

    /// <summary>Runs <paramref name="action"/>: false when it succeeded, true when it threw a well-formed refusal; anything else fails.</summary>
    private static async Task<bool> IsRefusedAsync(Func<Task> action, Guid instanceId, InstanceOperation operation)
    {
        try
        {
            await action();
            return false;
        }
        catch (GuestFeatureUnavailableException ex)
        {
            AssertWellFormed(ex, instanceId, operation);
            return true;
        }
    }

    private static async Task AssertRefusedAsync(Func<Task> action, Guid instanceId, InstanceOperation operation)
    {
        var ex = await KitAssert.ThrowsAsync<GuestFeatureUnavailableException>(action, $"{operation} of a guest that cannot cooperate");
        AssertWellFormed(ex, instanceId, operation);
    }

    private static void AssertWellFormed(GuestFeatureUnavailableException ex, Guid instanceId, InstanceOperation operation)
    {
        Assert.Equal(instanceId, ex.InstanceId);
        Assert.Equal(operation, ex.Operation);
        Assert.Equal(HypervisorErrorKind.GuestFeatureUnavailable, ex.Kind);
        Assert.False(ex.IsTransient, "A guest lacking a feature is not a transient failure.");
    }

    private static void AssertSameDevices(InstanceDevices before, InstanceDevices after)
    {
        Assert.Equal(before.Volumes.Select(v => v.VolumeId).Order(StringComparer.Ordinal), after.Volumes.Select(v => v.VolumeId).Order(StringComparer.Ordinal));
        Assert.Equal(before.NetworkInterfaces.Select(n => n.MacAddress).Order(StringComparer.Ordinal), after.NetworkInterfaces.Select(n => n.MacAddress).Order(StringComparer.Ordinal));
        Assert.Equal(before.Disks.Count, after.Disks.Count);
    }
}
