namespace Hypervisors.Fake.Tests.Teeth;

// Deliberately broken drivers that get one instance right and its neighbours wrong: host usage, devices, snapshots.

/// <summary>Host info never moves LocalDiskGiBUsed (it reports the disk usage seen at connect).</summary>
internal sealed class DiskUsageFrozen(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private long? _frozen;

    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        _frozen ??= host.LocalDiskGiBUsed;
        return host with { LocalDiskGiBUsed = _frozen.Value };
    }
}

/// <summary>Deleting an instance leaves its disks behind, so their space stays used.</summary>
internal sealed class DeleteLeaksDisks(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private long _leaked;

    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var disks = (await InnerDriver.GetDevicesAsync(instanceId, cancellationToken)).Disks.Sum(d => d.SizeGiB);
        await InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken);
        Interlocked.Add(ref _leaked, disks);
    }

    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        return host with { LocalDiskGiBUsed = host.LocalDiskGiBUsed + Interlocked.Read(ref _leaked) };
    }
}

/// <summary>Deleting a running instance removes it without releasing its vCPUs and memory.</summary>
internal sealed class DeleteOfRunningLeaksCompute(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private int _vcpus;
    private long _memory;

    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        await InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken);
        if (info.PowerState is PowerState.Running or PowerState.Paused)
        {
            Interlocked.Add(ref _vcpus, info.VCpus);
            Interlocked.Add(ref _memory, info.MemoryMiB);
        }
    }

    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        return host with { VCpusUsed = host.VCpusUsed + Volatile.Read(ref _vcpus), MemoryMiBUsed = host.MemoryMiBUsed + Interlocked.Read(ref _memory) };
    }
}

/// <summary>Defined but stopped instances count against vCPUs and memory (the driver sums every domain's size).</summary>
internal sealed class StoppedInstancesCountCompute(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        var stopped = (await InnerDriver.ListInstancesAsync(cancellationToken)).Where(i => i.PowerState == PowerState.Shutdown).ToList();
        return host with { VCpusUsed = host.VCpusUsed + stopped.Sum(i => i.VCpus), MemoryMiBUsed = host.MemoryMiBUsed + stopped.Sum(i => i.MemoryMiB) };
    }
}

/// <summary>Paused instances are not counted (the driver counts only domains whose state is running).</summary>
internal sealed class PausedInstancesNotCounted(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        var paused = (await InnerDriver.ListInstancesAsync(cancellationToken)).Where(i => i.PowerState == PowerState.Paused).ToList();
        return host with { VCpusUsed = host.VCpusUsed - paused.Sum(i => i.VCpus), MemoryMiBUsed = host.MemoryMiBUsed - paused.Sum(i => i.MemoryMiB) };
    }
}

/// <summary>Host usage reports only the largest running instance (a max where a sum belongs).</summary>
internal sealed class UsageTakesTheLargestInstance(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        var active = (await InnerDriver.ListInstancesAsync(cancellationToken)).Where(i => i.PowerState is PowerState.Running or PowerState.Paused).ToList();
        return active.Count == 0 ? host : host with { VCpusUsed = active.Max(i => i.VCpus), MemoryMiBUsed = active.Max(i => i.MemoryMiB) };
    }
}

/// <summary>Detaching a volume detaches every volume of the instance (it matches on the device type, not the id).</summary>
internal sealed class DetachVolumeDetachesAll(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default)
    {
        await InnerDriver.DetachVolumeAsync(instanceId, volumeId, cancellationToken);
        foreach (var other in (await InnerDriver.GetDevicesAsync(instanceId, cancellationToken)).Volumes)
        {
            await InnerDriver.DetachVolumeAsync(instanceId, other.VolumeId, cancellationToken);
        }
    }
}

/// <summary>Detaching an interface removes the newest interface, whatever MAC address was asked for.</summary>
internal sealed class DetachInterfaceRemovesNewest(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DetachInterfaceAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken = default)
    {
        var nics = (await InnerDriver.GetDevicesAsync(instanceId, cancellationToken)).NetworkInterfaces;
        if (!nics.Any(n => n.MacAddress == macAddress))
        {
            throw new DeviceNotFoundException(instanceId, "interface", macAddress);
        }

        await InnerDriver.DetachInterfaceAsync(instanceId, nics[^1].MacAddress, cancellationToken);
    }
}

/// <summary>Every volume is given the same guest device name.</summary>
internal sealed class VolumesShareOneDeviceName(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default) =>
        (await InnerDriver.AttachVolumeAsync(instanceId, volume, cancellationToken)) with { Device = "vdb" };

    public override async Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var devices = await InnerDriver.GetDevicesAsync(instanceId, cancellationToken);
        return devices with { Volumes = [.. devices.Volumes.Select(v => v with { Device = "vdb" })] };
    }
}

/// <summary>Device listing shows the volumes attached anywhere on the host (a host-wide query not filtered by instance).</summary>
internal sealed class VolumesListedHostWide(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var devices = await InnerDriver.GetDevicesAsync(instanceId, cancellationToken);
        var all = new List<VolumeAttachment>();
        foreach (var instance in await InnerDriver.ListInstancesAsync(cancellationToken))
        {
            all.AddRange((await InnerDriver.GetDevicesAsync(instance.Id, cancellationToken)).Volumes);
        }

        return devices with { Volumes = all };
    }
}

/// <summary>Detaching a volume finds it by id anywhere on the host and detaches it from its owner.</summary>
internal sealed class DetachVolumeIgnoresOwner(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default)
    {
        foreach (var instance in await InnerDriver.ListInstancesAsync(cancellationToken))
        {
            if ((await InnerDriver.GetDevicesAsync(instance.Id, cancellationToken)).Volumes.Any(v => v.VolumeId == volumeId))
            {
                await InnerDriver.DetachVolumeAsync(instance.Id, volumeId, cancellationToken);
                return;
            }
        }

        await InnerDriver.DetachVolumeAsync(instanceId, volumeId, cancellationToken);
    }
}

/// <summary>An attached interface's MAC address is returned as the caller wrote it, not normalized.</summary>
internal sealed class AttachedMacNotNormalized(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<NetworkInterfaceInfo> AttachInterfaceAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken = default)
    {
        var attached = await InnerDriver.AttachInterfaceAsync(instanceId, networkInterface, cancellationToken);
        return networkInterface.MacAddress is { } given ? attached with { MacAddress = given } : attached;
    }
}

/// <summary>Listing snapshots returns every snapshot on the host.</summary>
internal sealed class SnapshotsListedHostWide(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var own = await InnerDriver.ListSnapshotsAsync(instanceId, cancellationToken);
        var all = new List<SnapshotInfo>();
        foreach (var instance in await InnerDriver.ListInstancesAsync(cancellationToken))
        {
            all.AddRange(await InnerDriver.ListSnapshotsAsync(instance.Id, cancellationToken));
        }

        return own.Count == 0 && all.Count == 0 ? own : all;
    }
}

/// <summary>Deleting a snapshot finds it by id anywhere on the host.</summary>
internal sealed class DeleteSnapshotIgnoresOwner(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DeleteSnapshotAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken = default)
    {
        foreach (var instance in await InnerDriver.ListInstancesAsync(cancellationToken))
        {
            if ((await InnerDriver.ListSnapshotsAsync(instance.Id, cancellationToken)).Any(s => s.SnapshotId == snapshotId))
            {
                await InnerDriver.DeleteSnapshotAsync(instance.Id, snapshotId, cancellationToken);
                return;
            }
        }

        await InnerDriver.DeleteSnapshotAsync(instanceId, snapshotId, cancellationToken);
    }
}

/// <summary>Snapshots record Shutdown whatever state the instance was in (the state is read from the disk-only snapshot).</summary>
internal sealed class SnapshotStateAlwaysShutdown(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default) =>
        (await InnerDriver.CreateSnapshotAsync(instanceId, name, cancellationToken)) with { PowerStateAtSnapshot = PowerState.Shutdown };

    public override async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListSnapshotsAsync(instanceId, cancellationToken)).Select(s => s with { PowerStateAtSnapshot = PowerState.Shutdown })];
}

/// <summary>Snapshots are listed newest first.</summary>
internal sealed class SnapshotsListedNewestFirst(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListSnapshotsAsync(instanceId, cancellationToken)).Reverse()];
}

/// <summary>Deleting an instance deletes the snapshots of every instance (the clean-up matches snapshots by name prefix).</summary>
internal sealed class DeleteRemovesOtherInstancesSnapshots(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        await InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken);
        foreach (var instance in await InnerDriver.ListInstancesAsync(cancellationToken))
        {
            foreach (var snapshot in await InnerDriver.ListSnapshotsAsync(instance.Id, cancellationToken))
            {
                await InnerDriver.DeleteSnapshotAsync(instance.Id, snapshot.SnapshotId, cancellationToken);
            }
        }
    }
}
