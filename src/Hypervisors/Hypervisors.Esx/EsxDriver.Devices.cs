using System.Globalization;
using System.Xml.Linq;
using Hypervisors.Esx.Mapping;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx;

public sealed partial class EsxDriver
{
    /// <inheritdoc />
    protected override Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var (_, content) = await ReadAsync(instanceId, DevicePaths, cancellationToken).ConfigureAwait(false);
            var (devices, volumes) = DevicesOf(content);
            var spec = VmRecord.Read(content).Spec;
            var volumeDevices = volumes.Keys.ToHashSet(StringComparer.Ordinal);
            var disks = devices.Disks
                .Where(d => !volumeDevices.Contains(devices.DiskDevice(d)))
                .Select(d => new DiskInfo(devices.DiskDevice(d), d.ChildLong("capacityInKB") / (1024 * 1024), ImageRefOfDisk(VmDevices.FileName(d), instanceId, spec), VmDevices.FileName(d)))
                .ToList();
            var attached = volumes
                .Where(v => devices.DiskAt(v.Key) is not null)
                .Select(v => new VolumeAttachment(v.Value.VolumeId, VmDevices.FileName(devices.DiskAt(v.Key)!) ?? string.Empty, v.Key, v.Value.ReadOnly))
                .ToList();
            var nics = devices.NetworkCards
                .Select(n => new NetworkInterfaceInfo(VmDevices.MacAddress(n), VmDevices.NetworkName(n), n.Child("deviceInfo")?.ChildText("label")))
                .ToList();
            return new InstanceDevices(disks, attached, nics);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            if (!volume.Source.StartsWith('[') || !volume.Source.Contains(']', StringComparison.Ordinal))
            {
                throw new InvalidSpecException("volume.Source", $"must be a datastore path such as '[datastore1] volumes/data.vmdk', was '{volume.Source}'.");
            }

            var (vm, devices, volumes) = await ReadDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (volumes.Values.Any(v => v.VolumeId == volume.VolumeId))
            {
                throw new InstanceAlreadyExistsException($"Volume '{volume.VolumeId}' is already attached to instance {instanceId}.") { InstanceId = instanceId };
            }

            var controller = devices.ScsiControllers.OrderBy(c => c.ChildLong("busNumber")).FirstOrDefault();
            var controllerKey = controller is null ? VmConfigWriter.NewControllerKey : VmDevices.Key(controller);
            var bus = controller?.ChildLong("busNumber") ?? 0;
            var used = devices.All.Where(d => VmDevices.ControllerKey(d) == controllerKey).Select(VmDevices.UnitNumber).ToHashSet();
            var unit = VmConfigWriter.ScsiUnits.Where(u => !used.Contains(u)).Select(u => (int?)u).FirstOrDefault()
                ?? throw new InsufficientResourcesException($"Instance {instanceId} has no free SCSI unit for volume '{volume.VolumeId}'.");
            var device = string.Create(CultureInfo.InvariantCulture, $"scsi{bus}:{unit}");
            await ReconfigureAsync(vm, w =>
            {
                if (controller is null)
                {
                    VmConfigWriter.WriteAddScsiController(w, controllerKey, 0);
                }

                VmConfigWriter.WriteAddExistingDisk(w, -1, volume.Source, controllerKey, unit);
                VmConfigWriter.WriteExtraConfig(w, VmConfigWriter.VolumeKey(device), (volume.ReadOnly ? "ro:" : "rw:") + volume.VolumeId);
            }, cancellationToken).ConfigureAwait(false);
            return new VolumeAttachment(volume.VolumeId, volume.Source, device, volume.ReadOnly);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var (vm, devices, volumes) = await ReadDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
            var (device, _) = volumes.FirstOrDefault(v => v.Value.VolumeId == volumeId);
            if (device is null)
            {
                throw new DeviceNotFoundException(instanceId, "volume", volumeId);
            }

            await ReconfigureAsync(vm, w =>
            {
                if (devices.DiskAt(device) is { } disk)
                {
                    VmConfigWriter.WriteRemoveDevice(w, disk);
                }

                VmConfigWriter.WriteExtraConfig(w, VmConfigWriter.VolumeKey(device), string.Empty);
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var network = CheckNetwork(networkInterface.Network, "networkInterface.Network");
            var mac = networkInterface.MacAddress is null ? null : InstanceSpecValidator.NormalizeMac(networkInterface.MacAddress);
            var (vm, devices, _) = await ReadDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (mac is not null && devices.NetworkCards.Any(n => VmDevices.MacAddress(n) == mac))
            {
                throw new InstanceAlreadyExistsException($"Instance {instanceId} already has an interface with MAC {mac}.") { InstanceId = instanceId };
            }

            await ReconfigureAsync(vm, w => VmConfigWriter.WriteAddNic(w, -1, networkInterface.Network, network, mac), cancellationToken).ConfigureAwait(false);
            if (mac is null)
            {
                var before = devices.NetworkCards.Select(VmDevices.Key).ToHashSet();
                var (_, after, _) = await ReadDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
                mac = after.NetworkCards.Where(n => !before.Contains(VmDevices.Key(n))).Select(VmDevices.MacAddress).FirstOrDefault() ?? string.Empty;
            }

            return new NetworkInterfaceInfo(mac, networkInterface.Network);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var (vm, devices, _) = await ReadDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
            var nic = devices.NetworkCards.FirstOrDefault(n => VmDevices.MacAddress(n) == macAddress)
                ?? throw new DeviceNotFoundException(instanceId, "interface", macAddress);
            await ReconfigureAsync(vm, w => VmConfigWriter.WriteRemoveDevice(w, nic), cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var (vm, _) = await ReadAsync(instanceId, VmRecord.StatePaths, cancellationToken).ConfigureAwait(false);
            var result = await RunTaskAsync("CreateSnapshot_Task", vm,
                w => w.Element("name", name).Element("memory", false).Element("quiesce", false), cancellationToken).ConfigureAwait(false);
            var id = result?.Value ?? string.Empty;
            var snapshots = await ReadSnapshotsAsync(instanceId, cancellationToken).ConfigureAwait(false);
            return snapshots.FirstOrDefault(s => s.Info.SnapshotId == id).Info
                ?? throw new VimFaultException("InvalidResponse", $"Snapshot {id} is not in the VM's snapshot tree.");
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        CallAsync<IReadOnlyList<SnapshotInfo>>(async () =>
            (await ReadSnapshotsAsync(instanceId, cancellationToken).ConfigureAwait(false)).Select(s => s.Info).ToList(), cancellationToken);

    /// <inheritdoc />
    protected override Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var snapshots = await ReadSnapshotsAsync(instanceId, cancellationToken).ConfigureAwait(false);
            var (snapshot, _) = snapshots.FirstOrDefault(s => s.Info.SnapshotId == snapshotId);
            if (snapshot == default)
            {
                throw new DeviceNotFoundException(instanceId, "snapshot", snapshotId);
            }

            return await RunTaskAsync("RemoveSnapshot_Task", snapshot,
                w => w.Element("removeChildren", false).Element("consolidate", true), cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    private async Task<(ManagedObjectReference Vm, VmDevices Devices, Dictionary<string, (string VolumeId, bool ReadOnly)> Volumes)> ReadDevicesAsync(
        Guid instanceId, CancellationToken cancellationToken)
    {
        var (vm, content) = await ReadAsync(instanceId, DevicePaths, cancellationToken).ConfigureAwait(false);
        var (devices, volumes) = DevicesOf(content);
        return (vm, devices, volumes);
    }

    private static (VmDevices Devices, Dictionary<string, (string VolumeId, bool ReadOnly)> Volumes) DevicesOf(ObjectContent content)
    {
        var devices = VmDevices.Read(content.Properties.GetValueOrDefault("config.hardware.device"));
        var volumes = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        foreach (var (key, value) in VmRecord.ReadExtraConfig(content.Properties.GetValueOrDefault("config.extraConfig")))
        {
            if (key.StartsWith(VmRecord.VolumeKeyPrefix, StringComparison.Ordinal) && value.Length > 3)
            {
                volumes[VmConfigWriter.DeviceOfVolumeKey(key)] = (value[3..], value.StartsWith("ro:", StringComparison.Ordinal));
            }
        }

        return (devices, volumes);
    }

    private async Task DetachAllVolumesAsync(Guid instanceId, ManagedObjectReference vm, CancellationToken cancellationToken)
    {
        var (_, devices, volumes) = await ReadDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
        await ReconfigureAsync(vm, w =>
        {
            foreach (var device in volumes.Keys)
            {
                if (devices.DiskAt(device) is { } disk)
                {
                    VmConfigWriter.WriteRemoveDevice(w, disk);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private Task<XElement?> ReconfigureAsync(ManagedObjectReference vm, Action<VimWriter> writeChanges, CancellationToken cancellationToken) =>
        RunTaskAsync("ReconfigVM_Task", vm, w =>
        {
            w.Start("spec");
            writeChanges(w);
            w.End();
        }, cancellationToken);

    /// <summary>The VM's snapshot tree, flattened, oldest first.</summary>
    private async Task<List<(ManagedObjectReference Snapshot, SnapshotInfo Info)>> ReadSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var (_, content) = await ReadAsync(instanceId, ["config.instanceUuid", "snapshot"], cancellationToken).ConfigureAwait(false);
        var result = new List<(ManagedObjectReference, SnapshotInfo, long)>();
        var pending = new Stack<XElement>(content.Properties.GetValueOrDefault("snapshot")?.Children("rootSnapshotList") ?? []);
        while (pending.TryPop(out var node))
        {
            var snapshot = node.ChildRef("snapshot") ?? default;
            var created = DateTimeOffset.TryParse(node.ChildText("createTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : DateTimeOffset.MinValue;
            var state = PowerStateMapping.FromVim(node.ChildText("state")) ?? PowerState.NoState;
            result.Add((snapshot, new SnapshotInfo(snapshot.Value, node.ChildText("name") ?? string.Empty, created, state), node.ChildLong("id")));
            foreach (var child in node.Children("childSnapshotList"))
            {
                pending.Push(child);
            }
        }

        return result.OrderBy(s => s.Item2.CreatedAt).ThenBy(s => s.Item3).Select(s => (s.Item1, s.Item2)).ToList();
    }
}
