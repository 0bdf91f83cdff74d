namespace Hypervisors;

/// <summary>A volume to attach: storage that lives beyond the instance (a Cinder volume in Nova's terms).</summary>
/// <param name="VolumeId">The caller's id for the volume, unique within the instance.</param>
/// <param name="Source">Where the storage is, in the driver's terms (a host path or block device, a VDI, a datastore path, a VHDX path).</param>
/// <param name="ReadOnly">Attach read-only.</param>
public sealed record VolumeSpec(string VolumeId, string Source, bool ReadOnly = false);

/// <summary>An attached volume.</summary>
/// <param name="VolumeId">The caller's id for the volume.</param>
/// <param name="Source">Where the storage is.</param>
/// <param name="Device">The guest device it appears as ("vdb", "xvdb", "scsi0:1", ...).</param>
/// <param name="ReadOnly">Whether it is attached read-only.</param>
public sealed record VolumeAttachment(string VolumeId, string Source, string Device, bool ReadOnly);

/// <summary>A disk created with the instance.</summary>
/// <param name="Device">The guest device ("vda", "xvda", ...).</param>
/// <param name="SizeGiB">Size in GiB.</param>
/// <param name="ImageRef">The image it started from, or null for a blank disk.</param>
/// <param name="Path">Where the driver keeps it (file path, VDI, datastore path), for diagnostics.</param>
public sealed record DiskInfo(string Device, long SizeGiB, string? ImageRef, string? Path);

/// <summary>A network interface as attached.</summary>
/// <param name="MacAddress">MAC address, lower-case and colon-separated.</param>
/// <param name="Network">The network it is plugged into.</param>
/// <param name="Device">The driver's device name or index, or null.</param>
public sealed record NetworkInterfaceInfo(string MacAddress, string Network, string? Device = null);

/// <summary>An instance's devices.</summary>
/// <param name="Disks">Disks created with the instance.</param>
/// <param name="Volumes">Attached volumes.</param>
/// <param name="NetworkInterfaces">Network interfaces.</param>
public sealed record InstanceDevices(IReadOnlyList<DiskInfo> Disks, IReadOnlyList<VolumeAttachment> Volumes, IReadOnlyList<NetworkInterfaceInfo> NetworkInterfaces);
