using System.Globalization;
using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    /// <inheritdoc />
    protected override TimeSpan ShutdownPollInterval => TimeSpan.FromMilliseconds(100);

    /// <inheritdoc />
    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(instanceId, InstanceOperation.Start, HyperVStates.Enabled, cancellationToken);

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(instanceId, InstanceOperation.PowerOff, HyperVStates.Disabled, cancellationToken);

    /// <inheritdoc />
    protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) =>
        kind == RebootKind.Soft
            ? ChangeStateAsync(instanceId, InstanceOperation.SoftReboot, HyperVStates.Reboot, cancellationToken)
            : ChangeStateAsync(instanceId, InstanceOperation.HardReboot, HyperVStates.Reset, cancellationToken);

    /// <inheritdoc />
    protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(instanceId, InstanceOperation.Pause, HyperVStates.Quiesce, cancellationToken);

    /// <inheritdoc />
    protected override Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(instanceId, InstanceOperation.Unpause, HyperVStates.Enabled, cancellationToken);

    /// <inheritdoc />
    protected override Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(instanceId, InstanceOperation.Suspend, HyperVStates.Offline, cancellationToken);

    /// <inheritdoc />
    protected override Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(instanceId, InstanceOperation.Resume, HyperVStates.Enabled, cancellationToken);

    /// <inheritdoc />
    protected override async Task RequestShutdownCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var component = (await _wmi.QueryAsync(WmiSession.Virtualization, "SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = " + Wql.Quote(entry.VmGuid), cancellationToken)
            .ConfigureAwait(false)).FirstOrDefault();
        if (component is null)
        {
            return; // No integration services in the guest: the stop falls through to a hard power off.
        }

        var reference = WmiSession.Reference(WmiSession.Virtualization, "Msvm_ShutdownComponent",
            ("CreationClassName", component["CreationClassName"] ?? "Msvm_ShutdownComponent"), ("DeviceID", component["DeviceID"] ?? string.Empty),
            ("SystemCreationClassName", component["SystemCreationClassName"] ?? "Msvm_ComputerSystem"), ("SystemName", component["SystemName"] ?? entry.VmGuid));
        try
        {
            await _wmi.InvokeAsync(reference, "InitiateShutdown", [new("Force", "true"), new("Reason", "Stop requested through the Hypervisors SDK")], cancellationToken)
                .ConfigureAwait(false);
        }
        catch (HypervisorException ex) when (ex.Kind is HypervisorErrorKind.InvalidPowerState or HypervisorErrorKind.Unavailable or HypervisorErrorKind.NotFound)
        {
            // The guest cannot take the request now; the stop ends with a hard power off after its timeout.
        }
    }

    /// <inheritdoc />
    protected override async Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
        if (state is PowerState.Running or PowerState.Paused or PowerState.Crashed or PowerState.NoState)
        {
            try
            {
                await _wmi.InvokeAsync(SystemReference(entry.VmGuid), "RequestStateChange",
                    [new("RequestedState", HyperVStates.Disabled.ToString(CultureInfo.InvariantCulture))], cancellationToken).ConfigureAwait(false);
            }
            catch (HypervisorException ex) when (ex.Kind == HypervisorErrorKind.InvalidPowerState)
            {
                // It stopped by itself in the meantime.
            }
        }

        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        await _wmi.InvokeAsync(service, "DestroySystem", [new("AffectedSystem", SystemReference(entry.VmGuid))], cancellationToken).ConfigureAwait(false);
        _index.TryRemove(instanceId, out _);
        Observe(instanceId, null);
        await DeleteFilesAsync(Enumerable.Range(0, entry.Spec.Disks.Count).Select(i => DiskPath(entry.Spec, i)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var resourcesTask = QueryResourcesAsync(entry.VmGuid, "CIM_ResourceAllocationSettingData", cancellationToken);
        var switchesTask = _wmi.QueryAsync(WmiSession.Virtualization, "SELECT Name, ElementName FROM Msvm_VirtualEthernetSwitch", cancellationToken);
        await Task.WhenAll(resourcesTask, switchesTask).ConfigureAwait(false);
        var resources = await resourcesTask.ConfigureAwait(false);
        var switches = await switchesTask.ConfigureAwait(false);
        if (resources.Count == 0 && await QuerySystemAsync(entry.VmGuid, cancellationToken).ConfigureAwait(false) is null)
        {
            throw Gone(instanceId);
        }

        var disks = new List<DiskInfo>();
        foreach (var storage in resources.Where(r => r.ClassName == "Msvm_StorageAllocationSettingData"))
        {
            var path = storage.GetArray("HostResource").FirstOrDefault();
            var index = Enumerable.Range(0, entry.Spec.Disks.Count).FirstOrDefault(i => string.Equals(DiskPath(entry.Spec, i), path, StringComparison.OrdinalIgnoreCase), -1);
            if (index >= 0)
            {
                var disk = entry.Spec.Disks[index];
                disks.Add(new DiskInfo("scsi0:" + index.ToString(CultureInfo.InvariantCulture), disk.SizeGiB, disk.ImageRef, path));
            }
        }

        var interfaces = new List<NetworkInterfaceInfo>();
        foreach (var port in resources.Where(r => r.ClassName == "Msvm_SyntheticEthernetPortSettingData"))
        {
            var portPath = Wql.ObjectPath("Msvm_SyntheticEthernetPortSettingData", new KeyValuePair<string, string>("InstanceID", port["InstanceID"] ?? string.Empty));
            var connection = resources.FirstOrDefault(r => r.ClassName == "Msvm_EthernetPortAllocationSettingData" && r["Parent"] == portPath);
            var switchPath = connection?.GetArray("HostResource").FirstOrDefault() ?? string.Empty;
            var network = switches.FirstOrDefault(s => s["Name"] is { Length: > 0 } name && switchPath.Contains(name, StringComparison.OrdinalIgnoreCase))?["ElementName"] ?? string.Empty;
            interfaces.Add(new NetworkInterfaceInfo(FormatMac(port["Address"]), network, port["ElementName"]));
        }

        return new InstanceDevices(disks.OrderBy(d => d.Device, StringComparer.Ordinal).ToList(), VolumesOf(resources), interfaces.OrderBy(n => n.Device, StringComparer.Ordinal).ToList());
    }

    private static string FormatMac(string? address)
    {
        if (address is not { Length: 12 })
        {
            return string.Empty;
        }

        return string.Join(':', Enumerable.Range(0, 6).Select(i => address.Substring(i * 2, 2))).ToLowerInvariant();
    }

    /// <summary>
    /// Checks the contract's power-state rule against the VM's current state, then asks Hyper-V for the transition and
    /// awaits its job. Hyper-V's 32775 (invalid state) becomes <see cref="InvalidPowerStateException"/> with the state read back.
    /// </summary>
    private async Task ChangeStateAsync(Guid instanceId, InstanceOperation operation, ushort requestedState, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
        PowerStateRules.EnsureAllowed(operation, instanceId, state);
        try
        {
            await _wmi.InvokeAsync(SystemReference(entry.VmGuid), "RequestStateChange",
                [new("RequestedState", requestedState.ToString(CultureInfo.InvariantCulture))], cancellationToken).ConfigureAwait(false);
            Observe(instanceId, PowerStateRules.ResultOf(operation) ?? state, restarted: operation is InstanceOperation.SoftReboot or InstanceOperation.HardReboot);
        }
        catch (HypervisorException ex) when (ex.Kind == HypervisorErrorKind.InvalidPowerState && ex is not InvalidPowerStateException)
        {
            var now = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
            throw new InvalidPowerStateException(instanceId, operation, now, ex) { NativeCode = ex.NativeCode };
        }
    }

    private async Task<PowerState> CurrentStateAsync(Guid instanceId, VmEntry entry, CancellationToken cancellationToken)
    {
        var system = await QuerySystemAsync(entry.VmGuid, cancellationToken).ConfigureAwait(false) ?? throw Gone(instanceId);
        return HyperVStates.ToPowerState(system.GetUInt64("EnabledState"));
    }
}
