using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Driver;

/// <summary>
/// The driver against xapi's answers for a new HVM guest without PV drivers (VM_LACKS_FEATURE, VM_MISSING_PV_DRIVERS)
/// and for the same guest once its drivers are installed.
/// </summary>
public sealed class XenGuestDriversTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_graceful_stop_of_a_guest_without_drivers_falls_back_to_a_hard_shutdown_at_once()
    {
        await using var scope = await SimulatorDriverScope.StartAsync();
        var spec = SimulatorDriverScope.Spec("no-drivers-stop") with { StartAfterCreate = true };
        await scope.Driver.CreateInstanceAsync(spec, Ct);

        var started = TimeProvider.System.GetTimestamp();
        await scope.Driver.StopInstanceAsync(spec.Id, TimeSpan.FromMinutes(5), Ct);

        Assert.Equal(PowerState.Shutdown, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromMinutes(1),
            "The driver waited for a clean shutdown that xapi had already refused.");
    }

    [Fact]
    public async Task Soft_reboot_and_suspend_of_a_guest_without_drivers_are_refused_and_change_nothing()
    {
        await using var scope = await SimulatorDriverScope.StartAsync();
        var spec = SimulatorDriverScope.Spec("no-drivers-refusals") with { StartAfterCreate = true };
        await scope.Driver.CreateInstanceAsync(spec, Ct);
        var domid = DomainId(scope, spec.Name);

        var reboot = await Assert.ThrowsAsync<GuestFeatureUnavailableException>(() => scope.Driver.RebootInstanceAsync(spec.Id, RebootKind.Soft, Ct));
        Assert.Equal((spec.Id, InstanceOperation.SoftReboot, "VM_LACKS_FEATURE"), (reboot.InstanceId!.Value, reboot.Operation, reboot.NativeCode));
        var suspend = await Assert.ThrowsAsync<GuestFeatureUnavailableException>(() => scope.Driver.SuspendInstanceAsync(spec.Id, Ct));
        Assert.Equal((spec.Id, InstanceOperation.Suspend, "VM_LACKS_FEATURE"), (suspend.InstanceId!.Value, suspend.Operation, suspend.NativeCode));

        Assert.Equal(PowerState.Running, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        Assert.Equal(domid, DomainId(scope, spec.Name)); // not rebooted behind the caller's back
    }

    [Fact]
    public async Task A_refused_hot_plug_removes_the_VBD_and_VIF_it_created()
    {
        await using var scope = await SimulatorDriverScope.StartAsync();
        var spec = SimulatorDriverScope.Spec("no-drivers-hotplug") with { StartAfterCreate = true };
        await scope.Driver.CreateInstanceAsync(spec, Ct);
        var volume = new VolumeSpec("hotplug-vol", scope.Simulator.CreateVdi("hotplug-vdi", 1L << 30));
        var (vbds, vifs) = DeviceCounts(scope);

        var attach = await Assert.ThrowsAsync<GuestFeatureUnavailableException>(() => scope.Driver.AttachVolumeAsync(spec.Id, volume, Ct));
        Assert.Equal("VM_MISSING_PV_DRIVERS", attach.NativeCode);
        var nic = await Assert.ThrowsAsync<GuestFeatureUnavailableException>(() =>
            scope.Driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec(new XenApiSimulatorOptions().NetworkName), Ct));
        Assert.Equal(InstanceOperation.AttachInterface, nic.Operation);

        Assert.Equal((vbds, vifs), DeviceCounts(scope));
        var devices = await scope.Driver.GetDevicesAsync(spec.Id, Ct);
        Assert.Empty(devices.Volumes);
        Assert.Single(devices.NetworkInterfaces);
    }

    [Fact]
    public async Task Once_the_guest_reports_its_drivers_soft_reboot_suspend_graceful_stop_and_hot_plug_work()
    {
        await using var scope = await SimulatorDriverScope.StartAsync();
        var spec = SimulatorDriverScope.Spec("drivers-installed") with { StartAfterCreate = true };
        await scope.Driver.CreateInstanceAsync(spec, Ct);
        scope.Simulator.InstallPvDrivers(spec.Name);
        var domid = DomainId(scope, spec.Name);

        await scope.Driver.RebootInstanceAsync(spec.Id, RebootKind.Soft, Ct);
        Assert.NotEqual(domid, DomainId(scope, spec.Name));
        var volume = new VolumeSpec("hotplug-vol", scope.Simulator.CreateVdi("hotplug-vdi", 1L << 30));
        await scope.Driver.AttachVolumeAsync(spec.Id, volume, Ct);
        Assert.Single((await scope.Driver.GetDevicesAsync(spec.Id, Ct)).Volumes);
        await scope.Driver.SuspendInstanceAsync(spec.Id, Ct);
        Assert.Equal(PowerState.Suspended, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        await scope.Driver.ResumeInstanceAsync(spec.Id, Ct);

        await scope.Driver.StopInstanceAsync(spec.Id, TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(PowerState.Shutdown, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
    }

    private static long DomainId(SimulatorDriverScope scope, string name)
    {
        lock (scope.Simulator.Database.Gate)
        {
            return scope.Simulator.Database.All("VM").Single(v => v.Text("name_label") == name).Long("domid");
        }
    }

    private static (int Vbds, int Vifs) DeviceCounts(SimulatorDriverScope scope)
    {
        lock (scope.Simulator.Database.Gate)
        {
            return (scope.Simulator.Database.All("VBD").Count(), scope.Simulator.Database.All("VIF").Count());
        }
    }
}
