using System.Security.Cryptography;
using System.Xml;
using System.Xml.Linq;
using Hypervisors.Libvirt.Native;
using Hypervisors.Libvirt.Xml;

namespace Hypervisors.Libvirt;

/// <summary>Devices, volumes, interfaces, snapshots and host information.</summary>
public sealed partial class LibvirtDriver
{
    /// <inheritdoc />
    protected override Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.GetHostInfo, null, ReadHost, cancellationToken);

    private unsafe HostInfo ReadHost(LibvirtSession session)
    {
        var connection = session.Connection;
        Check(LibvirtNative.NodeGetInfo(connection, out var node), "virNodeGetInfo");
        var capabilitiesXml = LibvirtNative.TakeString(LibvirtNative.ConnectGetCapabilities(connection))
            ?? throw new LibvirtCallException("virConnectGetCapabilities", LibvirtError.Capture("virConnectGetCapabilities"));
        var hostName = LibvirtNative.TakeString(LibvirtNative.ConnectGetHostname(connection))
            ?? throw new LibvirtCallException("virConnectGetHostname", LibvirtError.Capture("virConnectGetHostname"));
        Check(LibvirtNative.ConnectGetVersion(connection, out var version), "virConnectGetVersion");
        HostCapabilities capabilities;
        try
        {
            capabilities = HostCapabilities.Parse(capabilitiesXml);
        }
        catch (FormatException ex)
        {
            throw new HypervisorException($"libvirt returned capabilities this driver cannot read: {ex.Message}", ex);
        }

        // Usage is what active domains are given, as a scheduler accounts it (Nova's placement does the same):
        // the host's own free-memory figure lags behind guests that have not touched their memory yet.
        var vcpusUsed = 0;
        var memoryUsedMiB = 0L;
        foreach (var instance in ListAll(session))
        {
            if (instance.PowerState is PowerState.Running or PowerState.Paused)
            {
                vcpusUsed += instance.VCpus;
                memoryUsedMiB += instance.MemoryMiB;
            }
        }

        string model;
        model = System.Text.Encoding.ASCII.GetString(new ReadOnlySpan<byte>(node.Model, 32)).TrimEnd('\0');
        var totalMiB = (long)(node.MemoryKiB / 1024);
        var (diskTotal, diskUsed) = LocalDisk();
        var v = (ulong)version;
        return new HostInfo
        {
            HypervisorType = _profile.HypervisorType,
            HypervisorVersion = $"{v / 1_000_000}.{v / 1000 % 1000}.{v % 1000}",
            HostName = hostName,
            Cpu = new CpuInfo(
                capabilities.CpuModel.Length > 0 ? capabilities.CpuModel : model,
                capabilities.CpuVendor,
                capabilities.HostArchitecture.Length > 0 ? capabilities.HostArchitecture : model,
                (int)(node.Sockets * node.Nodes),
                (int)node.Cores,
                (int)node.Threads,
                (int)node.Mhz),
            VCpusTotal = (int)node.Cpus,
            VCpusUsed = vcpusUsed,
            MemoryMiBTotal = totalMiB,
            MemoryMiBUsed = Math.Clamp(memoryUsedMiB, 0, totalMiB),
            LocalDiskGiBTotal = diskTotal,
            LocalDiskGiBUsed = diskUsed,
            SupportedArchitectures = capabilities.GuestArchitectures,
            Uptime = _profile.IsLocal && !_profile.IsTestDriver ? TimeSpan.FromMilliseconds(Environment.TickCount64) : TimeSpan.Zero,
        };
    }

    private (long Total, long Used) LocalDisk()
    {
        if (!_profile.IsLocal)
        {
            return (0, 0);
        }

        var directory = new DirectoryInfo(Path.GetFullPath(_options.InstanceDirectory));
        while (directory is not null && !directory.Exists)
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            return (0, 0);
        }

        const long GiB = 1024L * 1024 * 1024;
        var drive = new DriveInfo(directory.FullName);
        return (drive.TotalSize / GiB, (drive.TotalSize - drive.AvailableFreeSpace) / GiB);
    }

    /// <inheritdoc />
    protected override Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.GetDevices, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            var record = Record(instanceId, domain);
            var xml = DomainXml(domain);
            return new InstanceDevices(record?.Disks() ?? [], record?.Volumes ?? [], DomainXmlReader.Interfaces(xml));
        }, cancellationToken);

    private static XDocument DomainXml(SafeDomainHandle domain)
    {
        var text = LibvirtNative.TakeString(LibvirtNative.DomainGetXmlDesc(domain, 0))
            ?? throw new LibvirtCallException("virDomainGetXMLDesc", LibvirtError.Capture("virDomainGetXMLDesc"));
        try
        {
            return SafeXml.Parse(text);
        }
        catch (XmlException ex)
        {
            throw new HypervisorException($"libvirt returned domain XML this driver cannot read: {ex.Message}", ex);
        }
    }

    /// <summary>Live and persistent when the domain runs, persistent only when it is off.</summary>
    private static uint AffectFlags(SafeDomainHandle domain)
    {
        Check(LibvirtNative.DomainGetInfo(domain, out var info), "virDomainGetInfo");
        return info.State == VirConstants.DomainShutoff ? VirConstants.AffectConfig : VirConstants.AffectLive | VirConstants.AffectConfig;
    }

    /// <summary>Stores the changed record in the domain's metadata, then in the cache.</summary>
    private void SaveRecord(SafeDomainHandle domain, InstanceRecord record, uint flags)
    {
        Check(LibvirtNative.DomainSetMetadata(domain, VirConstants.MetadataElement, InstanceMetadataXml.ToXml(record), InstanceMetadataXml.Prefix, InstanceMetadataXml.NamespaceUri, flags),
            "virDomainSetMetadata");
        _records[record.Spec.Id] = record;
    }

    /// <inheritdoc />
    protected override Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.AttachVolume, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            var record = RequireRecord(instanceId, domain, InstanceOperation.AttachVolume);
            if (record.Volumes.Any(v => v.VolumeId == volume.VolumeId))
            {
                throw new InstanceAlreadyExistsException($"Volume '{volume.VolumeId}' is already attached to instance {instanceId}.") { InstanceId = instanceId };
            }

            var attachment = new VolumeAttachment(volume.VolumeId, volume.Source, record.NextFreeDevice(), volume.ReadOnly);
            var flags = AffectFlags(domain);
            Check(LibvirtNative.DomainAttachDeviceFlags(domain, DomainXmlBuilder.BuildVolume(attachment, _shape), flags), "virDomainAttachDeviceFlags");
            SaveRecord(domain, record with { Volumes = [.. record.Volumes, attachment] }, flags);
            return attachment;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.DetachVolume, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            var record = RequireRecord(instanceId, domain, InstanceOperation.DetachVolume);
            var attachment = record.Volumes.FirstOrDefault(v => v.VolumeId == volumeId)
                ?? throw new DeviceNotFoundException(instanceId, "volume", volumeId) { InstanceId = instanceId };
            var flags = AffectFlags(domain);
            Check(LibvirtNative.DomainDetachDeviceFlags(domain, DomainXmlBuilder.BuildVolume(attachment, _shape), flags), "virDomainDetachDeviceFlags");
            SaveRecord(domain, record with { Volumes = [.. record.Volumes.Where(v => v.VolumeId != volumeId)] }, flags);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.AttachInterface, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            var mac = networkInterface.MacAddress is null ? RandomMac() : InstanceSpecValidator.NormalizeMac(networkInterface.MacAddress);
            if (DomainXmlReader.Interfaces(DomainXml(domain)).Any(n => n.MacAddress == mac))
            {
                throw new InstanceAlreadyExistsException($"Instance {instanceId} already has an interface with MAC address {mac}.") { InstanceId = instanceId };
            }

            Check(LibvirtNative.DomainAttachDeviceFlags(domain, DomainXmlBuilder.BuildInterface(networkInterface.Network, mac, _shape), AffectFlags(domain)),
                "virDomainAttachDeviceFlags");
            return DomainXmlReader.Interfaces(DomainXml(domain)).FirstOrDefault(n => n.MacAddress == mac) ?? new NetworkInterfaceInfo(mac, networkInterface.Network);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.DetachInterface, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            var xml = DomainXmlReader.InterfaceXml(DomainXml(domain), macAddress)
                ?? throw new DeviceNotFoundException(instanceId, "interface", macAddress) { InstanceId = instanceId };
            Check(LibvirtNative.DomainDetachDeviceFlags(domain, xml, AffectFlags(domain)), "virDomainDetachDeviceFlags");
            return true;
        }, cancellationToken);

    /// <summary>A random locally administered MAC in QEMU's 52:54:00 prefix, as libvirt itself would pick.</summary>
    private static string RandomMac()
    {
        Span<byte> tail = stackalloc byte[3];
        RandomNumberGenerator.Fill(tail);
        return $"52:54:00:{tail[0]:x2}:{tail[1]:x2}:{tail[2]:x2}";
    }

    /// <inheritdoc />
    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.CreateSnapshot, instanceId, session =>
        {
            var domain = session.Domain(instanceId);

            // libvirt names must be unique per domain and callers may repeat names, so the id is generated and
            // sorts by creation: milliseconds since the epoch, then randomness.
            var snapshotId = $"snap-{TimeProvider.GetUtcNow().ToUnixTimeMilliseconds():D13}-{Guid.NewGuid().ToString("N")[..8]}";
            using var snapshot = LibvirtNative.DomainSnapshotCreateXml(domain, DomainXmlBuilder.BuildSnapshot(snapshotId, name), 0);
            if (snapshot.IsInvalid)
            {
                throw new LibvirtCallException("virDomainSnapshotCreateXML", LibvirtError.Capture("virDomainSnapshotCreateXML"));
            }

            return ReadSnapshot(snapshot);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.ListSnapshots, instanceId, session => ListSnapshots(session.Domain(instanceId)), cancellationToken);

    private static unsafe IReadOnlyList<SnapshotInfo> ListSnapshots(SafeDomainHandle domain)
    {
        var count = LibvirtNative.DomainListAllSnapshots(domain, out var snapshots, 0);
        Check(count, "virDomainListAllSnapshots");
        var result = new List<SnapshotInfo>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                result.Add(ReadSnapshot(snapshots[i]));
            }
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                LibvirtNative.DomainSnapshotFree(snapshots[i]);
            }

            LibvirtNative.FreeString((IntPtr)snapshots);
        }

        return [.. result.OrderBy(s => s.CreatedAt).ThenBy(s => s.SnapshotId, StringComparer.Ordinal)];
    }

    private static SnapshotInfo ReadSnapshot(SafeSnapshotHandle snapshot)
    {
        var added = false;
        snapshot.DangerousAddRef(ref added);
        try
        {
            return ReadSnapshot(snapshot.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                snapshot.DangerousRelease();
            }
        }
    }

    private static SnapshotInfo ReadSnapshot(IntPtr snapshot)
    {
        var text = LibvirtNative.TakeString(LibvirtNative.DomainSnapshotGetXmlDesc(snapshot, 0))
            ?? throw new LibvirtCallException("virDomainSnapshotGetXMLDesc", LibvirtError.Capture("virDomainSnapshotGetXMLDesc"));
        try
        {
            return DomainXmlReader.Snapshot(SafeXml.Parse(text));
        }
        catch (Exception ex) when (ex is XmlException or FormatException)
        {
            throw new HypervisorException($"libvirt returned snapshot XML this driver cannot read: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    protected override Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.DeleteSnapshot, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            using var snapshot = LibvirtNative.DomainSnapshotLookupByName(domain, snapshotId, 0);
            if (snapshot.IsInvalid)
            {
                throw new LibvirtCallException("virDomainSnapshotLookupByName", LibvirtError.Capture("virDomainSnapshotLookupByName"));
            }

            Check(LibvirtNative.DomainSnapshotDelete(snapshot, 0), "virDomainSnapshotDelete");
            return true;
        }, cancellationToken);
}
