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
        RequestStateAsync(instanceId, InstanceOperation.Start, HyperVStates.Enabled, cancellationToken);

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RequestStateAsync(instanceId, InstanceOperation.PowerOff, HyperVStates.Disabled, cancellationToken);

    /// <inheritdoc />
    protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) =>
        kind == RebootKind.Soft
            ? RequestStateAsync(instanceId, InstanceOperation.SoftReboot, HyperVStates.Reboot, cancellationToken)
            : RequestStateAsync(instanceId, InstanceOperation.HardReboot, HyperVStates.Reset, cancellationToken);

    /// <inheritdoc />
    protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RequestStateAsync(instanceId, InstanceOperation.Pause, HyperVStates.Quiesce, cancellationToken);

    /// <inheritdoc />
    protected override Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RequestStateAsync(instanceId, InstanceOperation.Unpause, HyperVStates.Enabled, cancellationToken);

    /// <inheritdoc />
    protected override Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RequestStateAsync(instanceId, InstanceOperation.Suspend, HyperVStates.Offline, cancellationToken);

    /// <inheritdoc />
    protected override Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RequestStateAsync(instanceId, InstanceOperation.Resume, HyperVStates.Enabled, cancellationToken);

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
        catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.InvalidPowerState) || HyperVErrorTable.Means(ex, HypervisorErrorKind.Unavailable)
            || HyperVErrorTable.Means(ex, HypervisorErrorKind.NotFound))
        {
            // The guest cannot take the request now; the stop ends with a hard power off after its timeout.
            LogShutdownRefused(_logger, instanceId, ex.NativeCode);
        }
    }

    /// <inheritdoc />
    protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => DeleteAsync(instanceId, cancellationToken);

    /// <summary>
    /// DestroySystem, without asking for the state first: Hyper-V destroys a VM that is off or saved and answers 32775
    /// for one that runs; then the VM is turned off (RequestStateChange 3) and destroyed. When the driver last saw the VM
    /// running or paused it turns it off first, saving the refused call. Then the instance's disk files go.
    /// </summary>
    private async Task DeleteAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        var turnOffFirst = entry.State is PowerState.Running or PowerState.Paused;
        for (var attempt = 0; ; attempt++)
        {
            if (turnOffFirst)
            {
                await TurnOffForDeleteAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                await _wmi.InvokeAsync(service, "DestroySystem", [new("AffectedSystem", SystemReference(entry.VmGuid))], cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.InvalidPowerState) && attempt < MaxDeleteAttempts)
            {
                // Running (turn it off), or busy with a transition (wait for it, then try again).
                turnOffFirst = true;
                if (attempt > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50 << Math.Min(attempt, 5)), TimeProvider, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.InvalidSpec))
            {
                // Hyper-V calls a VM that no longer exists an invalid parameter (32773): deleted meanwhile?
                if (await QuerySystemAsync(entry.VmGuid, cancellationToken).ConfigureAwait(false) is null)
                {
                    throw Gone(instanceId);
                }

                throw;
            }
        }

        _index.TryRemove(instanceId, out _);
        LogDeleted(_logger, instanceId, entry.VmGuid);
        Observe(instanceId, null);
        await DeleteFilesAsync(Enumerable.Range(0, entry.Spec.Disks.Count).Select(i => DiskPath(entry.Spec, i)), cancellationToken).ConfigureAwait(false);
    }

    private const int MaxDeleteAttempts = 8;

    private async Task TurnOffForDeleteAsync(Guid instanceId, VmEntry entry, CancellationToken cancellationToken)
    {
        try
        {
            await _wmi.InvokeAsync(SystemReference(entry.VmGuid), "RequestStateChange",
                [new("RequestedState", HyperVStates.Disabled.ToString(CultureInfo.InvariantCulture))], cancellationToken).ConfigureAwait(false);
            Remember(instanceId, PowerState.Shutdown);
        }
        catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.InvalidPowerState))
        {
            // Already off or saved, or in a transition; DestroySystem's answer decides.
        }
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
    /// Asks Hyper-V for the transition and awaits its job, relying on Hyper-V's own refusal (32775, invalid state) where
    /// it refuses exactly what the contract refuses. Where Hyper-V is laxer (RequestStateChange 2 starts, unpauses and
    /// restores alike; 3 also discards a saved state; 6 also saves a paused VM), the state is read first unless the
    /// driver itself last confirmed a state the contract allows. A refusal reads the state once, for the error.
    /// </summary>
    private async Task RequestStateAsync(Guid instanceId, InstanceOperation operation, ushort requestedState, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (!HyperVRefusesExactly(operation) && !(entry.State is { } known && PowerStateRules.IsAllowed(operation, known)))
        {
            var state = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
            PowerStateRules.EnsureAllowed(operation, instanceId, state);
        }

        try
        {
            await _wmi.InvokeAsync(SystemReference(entry.VmGuid), "RequestStateChange",
                [new("RequestedState", requestedState.ToString(CultureInfo.InvariantCulture))], cancellationToken).ConfigureAwait(false);
        }
        catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.InvalidPowerState))
        {
            ex.ObservedState = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
            LogTransitionRefused(_logger, instanceId, operation, ex.ObservedState.Value, ex.NativeCode);
            throw;
        }

        var now = PowerStateRules.ResultOf(operation);
        Remember(instanceId, now);
        Observe(instanceId, now, restarted: operation is InstanceOperation.SoftReboot or InstanceOperation.HardReboot);
    }

    /// <summary>Whether Hyper-V refuses with 32775 exactly the states the contract refuses for <paramref name="operation"/>.</summary>
    private static bool HyperVRefusesExactly(InstanceOperation operation) =>
        operation is InstanceOperation.SoftReboot or InstanceOperation.HardReboot or InstanceOperation.Pause;

    private async Task<PowerState> CurrentStateAsync(Guid instanceId, VmEntry entry, CancellationToken cancellationToken)
    {
        var system = await QuerySystemAsync(entry.VmGuid, cancellationToken).ConfigureAwait(false) ?? throw Gone(instanceId);
        var state = HyperVStates.ToPowerState(system.GetUInt64("EnabledState"));
        Remember(instanceId, state);
        return state;
    }
}
