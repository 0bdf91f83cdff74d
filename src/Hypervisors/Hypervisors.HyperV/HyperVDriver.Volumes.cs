using System.Globalization;
using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    private const string VolumePrefix = "volume:";

    /// <inheritdoc />
    /// <remarks>
    /// The volume's VHDX (its <see cref="VolumeSpec.Source"/>, a path on the host) goes on a new drive of the VM's
    /// synthetic SCSI controller (added when the VM has none); the storage setting's ElementName carries the volume id
    /// and its Access is 1 (readable) for read-only volumes.
    /// </remarks>
    protected override async Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var resources = await QueryResourcesAsync(entry.VmGuid, "CIM_ResourceAllocationSettingData", cancellationToken).ConfigureAwait(false);
        if (resources.Any(r => r.ClassName == "Msvm_StorageAllocationSettingData" && r["ElementName"] == VolumePrefix + volume.VolumeId))
        {
            throw new InstanceAlreadyExistsException($"Volume '{volume.VolumeId}' is already attached to instance {instanceId}.") { InstanceId = instanceId };
        }

        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        var configuration = WmiSession.Reference(WmiSession.Virtualization, "Msvm_VirtualSystemSettingData", ("InstanceID", "Microsoft:" + entry.VmGuid));
        var controller = resources.FirstOrDefault(r => r["ResourceSubType"] == SyntheticScsiController) is { } existing
            ? Wql.ObjectPath("Msvm_ResourceAllocationSettingData", new KeyValuePair<string, string>("InstanceID", existing["InstanceID"] ?? string.Empty))
            : Wql.ObjectPath((await AddResourcesAsync(service, configuration,
                [new EmbeddedInstance("Msvm_ResourceAllocationSettingData").SetUInt16("ResourceType", 6).Set("ResourceSubType", SyntheticScsiController)],
                cancellationToken).ConfigureAwait(false))[0]);
        var used = resources.Where(r => r["ResourceSubType"] == SyntheticDiskDrive && r["Parent"] == controller)
            .Select(r => int.TryParse(r["AddressOnParent"], NumberStyles.None, CultureInfo.InvariantCulture, out var a) ? a : -1).ToHashSet();
        var address = Enumerable.Range(0, 64).First(a => !used.Contains(a));
        var drive = await AddResourcesAsync(service, configuration,
            [new EmbeddedInstance("Msvm_ResourceAllocationSettingData").SetUInt16("ResourceType", 17).Set("ResourceSubType", SyntheticDiskDrive)
                .Set("Parent", controller).Set("AddressOnParent", address.ToString(CultureInfo.InvariantCulture))],
            cancellationToken).ConfigureAwait(false);
        try
        {
            await AddResourcesAsync(service, configuration,
                [new EmbeddedInstance("Msvm_StorageAllocationSettingData").SetUInt16("ResourceType", 31).Set("ResourceSubType", VirtualHardDisk)
                    .Set("ElementName", VolumePrefix + volume.VolumeId).Set("Parent", Wql.ObjectPath(drive[0]))
                    .SetArray("HostResource", [volume.Source]).SetUInt16("Access", volume.ReadOnly ? (ushort)1 : (ushort)3)],
                cancellationToken).ConfigureAwait(false);
        }
        catch (WsManException ex)
        {
            await _wmi.InvokeAsync(service, "RemoveResourceSettings", [new("ResourceSettings", drive)], CancellationToken.None).ConfigureAwait(false);
            if (HyperVErrorTable.Means(ex, HypervisorErrorKind.NotFound))
            {
                throw new InvalidSpecException("volume.Source", $"the host has no file '{volume.Source}'.");
            }

            throw;
        }

        return new VolumeAttachment(volume.VolumeId, volume.Source, "scsi0:" + address.ToString(CultureInfo.InvariantCulture), volume.ReadOnly);
    }

    /// <inheritdoc />
    protected override async Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var resources = await QueryResourcesAsync(entry.VmGuid, "CIM_ResourceAllocationSettingData", cancellationToken).ConfigureAwait(false);
        var storage = resources.FirstOrDefault(r => r.ClassName == "Msvm_StorageAllocationSettingData" && r["ElementName"] == VolumePrefix + volumeId)
            ?? throw new DeviceNotFoundException(instanceId, "volume", volumeId);
        var removed = resources.Where(r => r["ResourceSubType"] == SyntheticDiskDrive && DrivePath(r) == storage["Parent"]).Prepend(storage)
            .Select(r => WmiSession.Reference(WmiSession.Virtualization, r.ClassName, ("InstanceID", r["InstanceID"] ?? string.Empty)))
            .ToList();
        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        await _wmi.InvokeAsync(service, "RemoveResourceSettings", [new("ResourceSettings", removed)], cancellationToken).ConfigureAwait(false);
    }

    private static string DrivePath(CimInstance drive) =>
        Wql.ObjectPath(drive.ClassName, new KeyValuePair<string, string>("InstanceID", drive["InstanceID"] ?? string.Empty));

    private static List<VolumeAttachment> VolumesOf(IReadOnlyList<CimInstance> resources) =>
        resources.Where(r => r.ClassName == "Msvm_StorageAllocationSettingData" && r["ElementName"]?.StartsWith(VolumePrefix, StringComparison.Ordinal) == true)
            .Select(r =>
            {
                var drive = resources.FirstOrDefault(d => d["ResourceSubType"] == SyntheticDiskDrive && DrivePath(d) == r["Parent"]);
                return new VolumeAttachment(r["ElementName"]![VolumePrefix.Length..], r.GetArray("HostResource").FirstOrDefault() ?? string.Empty,
                    "scsi0:" + (drive?["AddressOnParent"] ?? "?"), r.GetUInt64("Access") == 1);
            })
            .OrderBy(v => v.VolumeId, StringComparer.Ordinal)
            .ToList();
}
