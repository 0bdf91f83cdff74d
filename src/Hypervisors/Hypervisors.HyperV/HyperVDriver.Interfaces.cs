using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    /// <inheritdoc />
    /// <remarks>A synthetic NIC (<c>Msvm_SyntheticEthernetPortSettingData</c>) connected to the named virtual switch, running or not.</remarks>
    protected override async Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var switches = await ResolveSwitchesAsync([networkInterface], _ => "networkInterface.Network", cancellationToken).ConfigureAwait(false);
        var resources = await QueryResourcesAsync(entry.VmGuid, "Msvm_SyntheticEthernetPortSettingData", cancellationToken).ConfigureAwait(false);
        if (networkInterface.MacAddress is { } requested && resources.Any(p => FormatMac(p["Address"]) == InstanceSpecValidator.NormalizeMac(requested)))
        {
            throw new InstanceAlreadyExistsException($"Instance {instanceId} already has an interface with MAC address {requested}.") { InstanceId = instanceId };
        }

        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        var configuration = WmiSession.Reference(WmiSession.Virtualization, "Msvm_VirtualSystemSettingData", ("InstanceID", "Microsoft:" + entry.VmGuid));
        var ports = await AddInterfacesAsync(service, configuration, [networkInterface], resources.Count, switches, cancellationToken).ConfigureAwait(false);
        var port = await _wmi.Client.GetAsync(ports[0], cancellationToken).ConfigureAwait(false);
        return new NetworkInterfaceInfo(FormatMac(port["Address"]), networkInterface.Network, port["ElementName"]);
    }

    /// <inheritdoc />
    protected override async Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var resources = await QueryResourcesAsync(entry.VmGuid, "CIM_ResourceAllocationSettingData", cancellationToken).ConfigureAwait(false);
        var port = resources.FirstOrDefault(r => r.ClassName == "Msvm_SyntheticEthernetPortSettingData" && FormatMac(r["Address"]) == macAddress)
            ?? throw new DeviceNotFoundException(instanceId, "interface", macAddress);
        var portPath = Wql.ObjectPath("Msvm_SyntheticEthernetPortSettingData", new KeyValuePair<string, string>("InstanceID", port["InstanceID"] ?? string.Empty));
        var removed = resources.Where(r => r.ClassName == "Msvm_EthernetPortAllocationSettingData" && r["Parent"] == portPath).Append(port)
            .Select(r => WmiSession.Reference(WmiSession.Virtualization, r.ClassName, ("InstanceID", r["InstanceID"] ?? string.Empty)))
            .ToList();
        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        await _wmi.InvokeAsync(service, "RemoveResourceSettings", [new("ResourceSettings", removed)], cancellationToken).ConfigureAwait(false);
    }
}
