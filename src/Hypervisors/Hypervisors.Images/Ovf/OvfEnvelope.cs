namespace Hypervisors.Images.Ovf;

/// <summary>An OVF descriptor (DMTF DSP0243 1.x or 2.x) as this SDK uses it, for one deployment option.</summary>
public sealed record OvfEnvelope
{
    /// <summary>"1" or "2": the major version of the envelope namespace.</summary>
    public required string Version { get; init; }

    /// <summary>The References section: the package's files.</summary>
    public IReadOnlyList<OvfFile> Files { get; init; } = [];

    /// <summary>The DiskSection: virtual disks and the files holding them.</summary>
    public IReadOnlyList<OvfDisk> Disks { get; init; } = [];

    /// <summary>The NetworkSection's network names.</summary>
    public IReadOnlyList<string> Networks { get; init; } = [];

    /// <summary>The DeploymentOptionSection's configurations.</summary>
    public IReadOnlyList<OvfDeploymentOption> DeploymentOptions { get; init; } = [];

    /// <summary>The deployment option the hardware was read for, or null when the descriptor has none.</summary>
    public string? SelectedDeploymentOption { get; init; }

    /// <summary>Every VirtualSystem, those inside VirtualSystemCollections included, in document order.</summary>
    public IReadOnlyList<OvfVirtualSystem> VirtualSystems { get; init; } = [];

    /// <summary>Sections and items that were ignored (vendor extensions, unknown sections), each naming its line.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>A File of the References section.</summary>
/// <param name="Id">ovf:id.</param>
/// <param name="Href">ovf:href: the file's name in the package.</param>
/// <param name="Size">ovf:size in bytes, when given.</param>
public sealed record OvfFile(string Id, string Href, long? Size);

/// <summary>A Disk of the DiskSection.</summary>
/// <param name="DiskId">ovf:diskId.</param>
/// <param name="FileRef">ovf:fileRef (a File id), or null for a blank disk.</param>
/// <param name="CapacityBytes">ovf:capacity times ovf:capacityAllocationUnits.</param>
/// <param name="Format">ovf:format (a URI naming the disk format).</param>
public sealed record OvfDisk(string DiskId, string? FileRef, long CapacityBytes, string? Format);

/// <summary>A Configuration of the DeploymentOptionSection.</summary>
public sealed record OvfDeploymentOption(string Id, string? Label, bool IsDefault);

/// <summary>A VirtualSystem with its hardware for the selected deployment option.</summary>
public sealed record OvfVirtualSystem
{
    /// <summary>ovf:id.</summary>
    public required string Id { get; init; }

    /// <summary>The Name element, or null.</summary>
    public string? Name { get; init; }

    /// <summary>The id of the VirtualSystemCollection it belongs to, or null.</summary>
    public string? CollectionId { get; init; }

    /// <summary>Processors (ResourceType 3).</summary>
    public int VCpus { get; init; }

    /// <summary>Memory (ResourceType 4) in MiB.</summary>
    public long MemoryMiB { get; init; }

    /// <summary>Ethernet adapters (ResourceType 10).</summary>
    public IReadOnlyList<OvfNetworkAdapter> NetworkAdapters { get; init; } = [];

    /// <summary>Disks (ResourceType 17) in the order they appear.</summary>
    public IReadOnlyList<OvfDiskDrive> DiskDrives { get; init; } = [];

    /// <summary>IDE (5), parallel SCSI (6) and other storage (20) controllers.</summary>
    public IReadOnlyList<OvfController> Controllers { get; init; } = [];

    /// <summary>Floppy (14), CD (15) and DVD (16) drives.</summary>
    public IReadOnlyList<OvfRemovableDrive> RemovableDrives { get; init; } = [];

    /// <summary>ProductSection properties by key (ovf:key, prefixed with the class and instance where given).</summary>
    public IReadOnlyList<OvfProperty> Properties { get; init; } = [];
}

/// <summary>An Ethernet adapter.</summary>
/// <param name="InstanceId">rasd:InstanceID.</param>
/// <param name="Connection">rasd:Connection: the network it plugs into.</param>
/// <param name="Model">rasd:ResourceSubType (e1000, VmxNet3, virtio, ...), or null.</param>
/// <param name="MacAddress">rasd:Address, or null.</param>
public sealed record OvfNetworkAdapter(string InstanceId, string? Connection, string? Model, string? MacAddress);

/// <summary>A disk drive: rasd:HostResource <c>ovf:/disk/&lt;id&gt;</c> (or <c>ovf:/file/&lt;id&gt;</c>).</summary>
/// <param name="InstanceId">rasd:InstanceID.</param>
/// <param name="DiskId">The DiskSection disk it refers to.</param>
/// <param name="Parent">The controller's InstanceID, or null.</param>
/// <param name="AddressOnParent">rasd:AddressOnParent, or null.</param>
public sealed record OvfDiskDrive(string InstanceId, string DiskId, string? Parent, string? AddressOnParent);

/// <summary>A storage controller.</summary>
/// <param name="InstanceId">rasd:InstanceID.</param>
/// <param name="ResourceType">5 IDE, 6 parallel SCSI, 20 other storage (SATA, NVMe).</param>
/// <param name="Model">rasd:ResourceSubType, or null.</param>
public sealed record OvfController(string InstanceId, int ResourceType, string? Model);

/// <summary>A removable-media drive.</summary>
/// <param name="InstanceId">rasd:InstanceID.</param>
/// <param name="ResourceType">14 floppy, 15 CD, 16 DVD.</param>
/// <param name="HostResource">The media it holds, or null.</param>
public sealed record OvfRemovableDrive(string InstanceId, int ResourceType, string? HostResource);

/// <summary>A ProductSection property.</summary>
/// <param name="Key">The full key ("class.key.instance" where class and instance are given).</param>
/// <param name="Type">ovf:type.</param>
/// <param name="DefaultValue">ovf:value, or null.</param>
/// <param name="UserConfigurable">ovf:userConfigurable.</param>
public sealed record OvfProperty(string Key, string? Type, string? DefaultValue, bool UserConfigurable);
