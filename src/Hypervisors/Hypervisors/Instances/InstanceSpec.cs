namespace Hypervisors;

/// <summary>What to create. Validated by <see cref="InstanceSpecValidator"/> before any driver sees it.</summary>
public sealed record InstanceSpec
{
    /// <summary>The caller's stable id for the instance; create is idempotent on it.</summary>
    public required Guid Id { get; init; }

    /// <summary>A display name, unique on the host: letters, digits, '.', '-' and '_', at most 63 characters.</summary>
    public required string Name { get; init; }

    /// <summary>Virtual CPUs, at least 1.</summary>
    public required int VCpus { get; init; }

    /// <summary>Memory in MiB, at least 16.</summary>
    public required long MemoryMiB { get; init; }

    /// <summary>Disks in boot order; the first one boots unless <see cref="KernelBoot"/> is given.</summary>
    public IReadOnlyList<DiskSpec> Disks { get; init; } = [];

    /// <summary>Network interfaces, in guest order.</summary>
    public IReadOnlyList<NetworkInterfaceSpec> NetworkInterfaces { get; init; } = [];

    /// <summary>Direct kernel boot, for drivers that declare <see cref="DriverCapabilities.SupportsKernelBoot"/>.</summary>
    public KernelBootSpec? KernelBoot { get; init; }

    /// <summary>Caller metadata stored with the instance (keys: at most 64 characters, values: at most 1024).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Power the instance on once it is defined.</summary>
    public bool StartAfterCreate { get; init; }

    /// <summary>Compares by value, lists and maps included; create uses it to decide whether a repeat is the same request.</summary>
    public bool Equals(InstanceSpec? other) =>
        other is not null
        && Id == other.Id
        && Name == other.Name
        && VCpus == other.VCpus
        && MemoryMiB == other.MemoryMiB
        && Disks.SequenceEqual(other.Disks)
        && NetworkInterfaces.SequenceEqual(other.NetworkInterfaces)
        && Equals(KernelBoot, other.KernelBoot)
        && StartAfterCreate == other.StartAfterCreate
        && Metadata.Count == other.Metadata.Count
        && Metadata.All(pair => other.Metadata.TryGetValue(pair.Key, out var value) && value == pair.Value);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, Name, VCpus, MemoryMiB);
}

/// <summary>A disk created with the instance.</summary>
/// <param name="SizeGiB">Size in GiB, at least 1; an image-backed disk grows to it.</param>
/// <param name="ImageRef">
/// The image the disk starts from, in the driver's terms (a base image path for libvirt, a template or VDI for
/// XenAPI, a VMDK or VHDX path for vSphere and Hyper-V); null for a blank disk.
/// </param>
public sealed record DiskSpec(long SizeGiB, string? ImageRef = null);

/// <summary>A network interface.</summary>
/// <param name="Network">The network to plug into, in the driver's terms (libvirt network or bridge, port group, XenAPI network, virtual switch).</param>
/// <param name="MacAddress">The MAC address as six colon-separated hex pairs; null lets the driver choose.</param>
public sealed record NetworkInterfaceSpec(string Network, string? MacAddress = null);

/// <summary>Boot a kernel and initrd directly, without a boot loader.</summary>
/// <param name="KernelPath">Absolute path of the kernel on the host.</param>
/// <param name="InitrdPath">Absolute path of the initrd on the host, or null.</param>
/// <param name="CommandLine">The kernel command line.</param>
public sealed record KernelBootSpec(string KernelPath, string? InitrdPath = null, string CommandLine = "");
