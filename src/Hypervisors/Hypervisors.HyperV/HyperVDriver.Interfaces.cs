using System.Globalization;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    /// <inheritdoc />
    /// <remarks>
    /// A synthetic NIC (<c>Msvm_SyntheticEthernetPortSettingData</c>) connected to the named virtual switch, running or
    /// not. The switch and the VM's ports are read together. A MAC address the spec gives is set as a static one and
    /// returned as set; a MAC Hyper-V picks is read back from the new port, since AddResourceSettings answers with
    /// references only (<c>ResultingResourceSettings</c>), which carry no Address.
    /// </remarks>
    protected override async Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var switchesTask = ResolveSwitchesAsync([networkInterface], _ => "networkInterface.Network", cancellationToken);
        var resourcesTask = QueryResourcesAsync(entry.VmGuid, "Msvm_SyntheticEthernetPortSettingData", cancellationToken);
        await Task.WhenAll(switchesTask, resourcesTask).ConfigureAwait(false);
        var switches = await switchesTask.ConfigureAwait(false);
        var resources = await resourcesTask.ConfigureAwait(false);
        var requested = networkInterface.MacAddress is { } mac ? InstanceSpecValidator.NormalizeMac(mac) : null;
        if (requested is not null && resources.Any(p => FormatMac(p["Address"]) == requested))
        {
            throw new InstanceAlreadyExistsException($"Instance {instanceId} already has an interface with MAC address {networkInterface.MacAddress}.") { InstanceId = instanceId };
        }

        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        var configuration = WmiSession.Reference(WmiSession.Virtualization, "Msvm_VirtualSystemSettingData", ("InstanceID", "Microsoft:" + entry.VmGuid));
        var device = PortName(resources.Count);
        var ports = await AddInterfacesAsync(service, configuration, [networkInterface], resources.Count, switches, cancellationToken).ConfigureAwait(false);
        if (requested is not null)
        {
            return new NetworkInterfaceInfo(requested, networkInterface.Network, device);
        }

        var port = await _wmi.Client.GetAsync(ports[0], cancellationToken).ConfigureAwait(false);
        return new NetworkInterfaceInfo(FormatMac(port["Address"]), networkInterface.Network, port["ElementName"] ?? device);
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

    /// <summary>The ElementName the driver gives the VM's NIC number <paramref name="index"/>.</summary>
    private static string PortName(int index) => "nic" + index.ToString(CultureInfo.InvariantCulture);
}
