using System.Globalization;

namespace Hypervisors.Uml;

public sealed partial class UmlDriver
{
    /// <inheritdoc />
    protected override Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var record = Find(instanceId).Record;
        return Task.FromResult(new InstanceDevices(
            record.Disks.Select(d => new DiskInfo(d.Device, d.SizeGiB, d.ImageRef, d.File)).ToList(),
            record.Volumes.Select(v => new VolumeAttachment(v.VolumeId, v.Source, v.Device, v.ReadOnly)).ToList(),
            record.Interfaces.Select(n => new NetworkInterfaceInfo(n.MacAddress, n.Network, n.Device)).ToList()));
    }

    /// <summary>Attaches a host file as the next free ubd unit: at once through mconsole <c>config</c> when the guest runs, at its next boot otherwise.</summary>
    protected override Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            var source = RequireSimplePath(UmlPaths.RequireAllowed(volume.Source, _options.AllowedVolumeDirectories, "volume.Source"), "volume.Source");
            var record = instance.Record;
            if (record.Volumes.Any(v => v.VolumeId == volume.VolumeId))
            {
                throw new InstanceAlreadyExistsException($"Volume '{volume.VolumeId}' is already attached to instance {instanceId}.") { InstanceId = instanceId };
            }

            var used = record.Disks.Select(d => d.Index).Concat(record.Volumes.Select(v => v.Index)).ToHashSet();
            var index = Enumerable.Range(0, UmlDevices.MaxUbd).Where(i => !used.Contains(i)).DefaultIfEmpty(-1).First();
            if (index < 0)
            {
                throw new InsufficientResourcesException($"Instance {instanceId} has no free ubd unit (the kernel has {UmlDevices.MaxUbd}).");
            }

            var attached = new UmlVolume(volume.VolumeId, source, volume.ReadOnly, index);
            if (instance.Guest is { HasExited: false } guest)
            {
                await SendCheckedAsync(instance, guest, "config " + UmlBootArguments.UbdArgument(index, volume.ReadOnly, source, backing: null), cancellationToken).ConfigureAwait(false);
            }

            await UpdateRecordAsync(instance, r => r with { Volumes = [.. r.Volumes, attached] }, cancellationToken).ConfigureAwait(false);
            return new VolumeAttachment(attached.VolumeId, attached.Source, attached.Device, attached.ReadOnly);
        }, cancellationToken);

    /// <summary>Detaches a volume (mconsole <c>remove</c> when the guest runs; the kernel refuses while the guest uses the device).</summary>
    protected override Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            var volume = instance.Record.Volumes.FirstOrDefault(v => v.VolumeId == volumeId)
                ?? throw new DeviceNotFoundException(instanceId, "volume", volumeId);
            if (instance.Guest is { HasExited: false } guest)
            {
                await SendCheckedAsync(instance, guest, "remove ubd" + volume.Index.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            }

            await UpdateRecordAsync(instance, r => r with { Volumes = r.Volumes.Where(v => v.VolumeId != volumeId).ToList() }, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Makes a tap device (on the network's bridge, if it has one) and plugs a vector interface over it into the guest.</summary>
    protected override Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            RequireNetwork(networkInterface.Network, "networkInterface.Network");
            var record = instance.Record;
            var mac = networkInterface.MacAddress is null ? NewMacAddress() : InstanceSpecValidator.NormalizeMac(networkInterface.MacAddress);
            if (record.Interfaces.Any(n => n.MacAddress == mac))
            {
                throw new InstanceAlreadyExistsException($"Instance {instanceId} already has an interface with MAC {mac}.") { InstanceId = instanceId };
            }

            var used = record.Interfaces.Select(n => n.Index).ToHashSet();
            var index = Enumerable.Range(0, int.MaxValue).First(i => !used.Contains(i));
            var nic = new UmlInterface(mac, networkInterface.Network, index, TapName(instanceId, index));
            await UmlHostTools.CreateTapAsync(_options, nic.Tap, _options.Networks[nic.Network], cancellationToken).ConfigureAwait(false);
            try
            {
                if (instance.Guest is { HasExited: false } guest)
                {
                    await SendCheckedAsync(instance, guest, "config " + UmlBootArguments.VectorArgument(nic), cancellationToken).ConfigureAwait(false);
                }

                await UpdateRecordAsync(instance, r => r with { Interfaces = [.. r.Interfaces, nic] }, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await UmlHostTools.DeleteTapAsync(_options, nic.Tap, CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            return new NetworkInterfaceInfo(nic.MacAddress, nic.Network, nic.Device);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            var nic = instance.Record.Interfaces.FirstOrDefault(n => n.MacAddress == macAddress)
                ?? throw new DeviceNotFoundException(instanceId, "interface", macAddress);
            if (instance.Guest is { HasExited: false } guest)
            {
                await SendCheckedAsync(instance, guest, "remove " + nic.Device, cancellationToken).ConfigureAwait(false);
            }

            await UpdateRecordAsync(instance, r => r with { Interfaces = r.Interfaces.Where(n => n.MacAddress != macAddress).ToList() }, cancellationToken).ConfigureAwait(false);
            await UmlHostTools.DeleteTapAsync(_options, nic.Tap, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>
    /// Snapshots the instance's disks. UML's COW format has one level (a COW file over a plain image), so each
    /// snapshot holds a plain image per disk. Of a stopped instance: the current COW layer merged with its backing
    /// image by <c>uml_moo</c> (or a sparse copy of the image when the guest never wrote to it), and the disk continues
    /// on a new COW layer over that image. Of a running one: the kernel is held (mconsole <c>stop</c>, unless it is
    /// paused already) while each disk is copied the same way into an image of the snapshot's own, crash-consistent
    /// like a power cut, and then let go; the kernel keeps its disk files.
    /// </summary>
    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            var record = instance.Record;

            // Numbered for the order, with a random part so no two instances' snapshots share an id.
            var snapshotId = "snap-" + record.NextSnapshotNumber.ToString("D4", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
            var folder = Path.Combine(instance.SnapshotDirectory, snapshotId);
            var state = instance.PowerState;
            Directory.CreateDirectory(folder);
            var images = new Dictionary<int, string>();
            var disks = new List<UmlDisk>();
            try
            {
                if (instance.Guest is { HasExited: false } guest)
                {
                    await CopyDisksOfRunningGuestAsync(instance, guest, folder, images, cancellationToken).ConfigureAwait(false);
                    disks.AddRange(record.Disks);
                }
                else
                {
                    foreach (var disk in record.Disks)
                    {
                        var image = Path.Combine(folder, DiskFileName(disk.Index, ".img"));
                        if (disk.Backing is null)
                        {
                            // A plain disk becomes the snapshot's image; the disk goes on as a COW layer over it.
                            File.Move(disk.File, image);
                        }
                        else
                        {
                            await MergeDiskAsync(disk, image, cancellationToken).ConfigureAwait(false);
                            File.Delete(disk.File);
                        }

                        images[disk.Index] = image;
                        disks.Add(disk with { Backing = image, File = Path.Combine(instance.Directory, DiskFileName(disk.Index, ".cow")) });
                    }
                }
            }
            catch
            {
                // Put moved plain disks back; merged images are only copies.
                foreach (var disk in record.Disks.Where(d => d.Backing is null && images.TryGetValue(d.Index, out var image) && !File.Exists(d.File) && File.Exists(image)))
                {
                    File.Move(images[disk.Index], disk.File);
                }

                Directory.Delete(folder, recursive: true);
                throw;
            }

            var snapshot = new UmlSnapshot(snapshotId, name, TimeProvider.GetUtcNow(), state, images);
            await UpdateRecordAsync(instance, r => r with
            {
                Disks = disks,
                Snapshots = [.. r.Snapshots, snapshot],
                NextSnapshotNumber = r.NextSnapshotNumber + 1,
            }, cancellationToken).ConfigureAwait(false);
            return ToInfo(snapshot);
        }, cancellationToken);

    /// <summary>Copies each disk of a running kernel into <paramref name="folder"/>, holding the kernel (unless paused) so its disks stand still.</summary>
    private async Task CopyDisksOfRunningGuestAsync(UmlInstance instance, UmlGuestProcess guest, string folder, Dictionary<int, string> images, CancellationToken cancellationToken)
    {
        var hold = !instance.Record.Paused;
        if (hold)
        {
            await SendCheckedAsync(instance, guest, "stop", cancellationToken).ConfigureAwait(false);
        }

        try
        {
            foreach (var disk in instance.Record.Disks)
            {
                var image = Path.Combine(folder, DiskFileName(disk.Index, ".img"));
                if (disk.Backing is null)
                {
                    await UmlHostTools.RunAsync("/bin/cp", ["--sparse=always", disk.File, image], cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await MergeDiskAsync(disk, image, cancellationToken).ConfigureAwait(false);
                }

                images[disk.Index] = image;
            }
        }
        finally
        {
            if (hold)
            {
                // Let the kernel go even when the copy failed or was cancelled: it was running before the call.
                await SendCheckedAsync(instance, guest, "go", CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the disk's content (its COW layer over its backing image) as the plain image <paramref name="image"/>, leaving the disk's files as they are.</summary>
    private Task MergeDiskAsync(UmlDisk disk, string image, CancellationToken cancellationToken) =>
        File.Exists(disk.File)
            ? UmlHostTools.RunAsync(_options.MooPath, [disk.File, image], cancellationToken)
            : UmlHostTools.RunAsync("/bin/cp", ["--sparse=always", disk.Backing!, image], cancellationToken);

    /// <inheritdoc />
    protected override Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<SnapshotInfo>>(Find(instanceId).Record.Snapshots.Select(ToInfo).ToList());

    /// <summary>
    /// Deletes a snapshot of a stopped instance. Where the instance's disk runs on the snapshot's image, the disk's COW
    /// layer is merged into that image in place (<c>uml_moo -d</c>) and the image becomes the disk; other images of the
    /// snapshot are removed.
    /// </summary>
    protected override Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken) =>
        WithInstanceAsync(instanceId, async instance =>
        {
            var snapshot = instance.Record.Snapshots.FirstOrDefault(s => s.SnapshotId == snapshotId)
                ?? throw new DeviceNotFoundException(instanceId, "snapshot", snapshotId);
            var disks = instance.Record.Disks.ToList();
            if (disks.Any(d => snapshot.Images.TryGetValue(d.Index, out var image) && d.Backing == image))
            {
                // The disk runs on this snapshot's image: merging its COW layer into it needs the kernel stopped.
                RequireStopped(instance, InstanceOperation.DeleteSnapshot);
            }

            foreach (var (index, image) in snapshot.Images)
            {
                var position = disks.FindIndex(d => d.Index == index && d.Backing == image);
                if (position < 0)
                {
                    continue;
                }

                var disk = disks[position];
                if (File.Exists(disk.File))
                {
                    await UmlHostTools.RunAsync(_options.MooPath, ["-d", disk.File], cancellationToken).ConfigureAwait(false);
                    File.Delete(disk.File);
                }

                var plain = Path.Combine(instance.Directory, DiskFileName(index, ".img"));
                File.Move(image, plain, overwrite: true);
                disks[position] = disk with { Backing = null, File = plain };
            }

            await UpdateRecordAsync(instance, r => r with { Disks = disks, Snapshots = r.Snapshots.Where(s => s.SnapshotId != snapshotId).ToList() }, cancellationToken).ConfigureAwait(false);
            var folder = Path.Combine(instance.SnapshotDirectory, snapshotId);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }, cancellationToken);

    private static SnapshotInfo ToInfo(UmlSnapshot snapshot) => new(snapshot.SnapshotId, snapshot.Name, snapshot.CreatedAt, snapshot.PowerState);

    /// <summary>Snapshots work on the disk files, so the kernel must not be writing them.</summary>
    private static void RequireStopped(UmlInstance instance, InstanceOperation operation)
    {
        if (instance.IsRunning)
        {
            throw new InvalidPowerStateException(instance.Id, operation, instance.PowerState);
        }
    }
}
