namespace Hypervisors;

/// <summary>A hypervisor host's identity and resources, as a scheduler needs them for placement.</summary>
public sealed record HostInfo
{
    /// <summary>The hypervisor family: "QEMU", "KVM", "Xen", "Hyper-V", "VMware", "Fake", ...</summary>
    public required string HypervisorType { get; init; }

    /// <summary>The hypervisor's version as it reports it.</summary>
    public required string HypervisorVersion { get; init; }

    /// <summary>The host's name.</summary>
    public required string HostName { get; init; }

    /// <summary>The physical CPU.</summary>
    public required CpuInfo Cpu { get; init; }

    /// <summary>Logical CPUs the host offers to guests.</summary>
    public required int VCpusTotal { get; init; }

    /// <summary>vCPUs assigned to instances that hold host resources (running or paused).</summary>
    public required int VCpusUsed { get; init; }

    /// <summary>Host memory in MiB.</summary>
    public required long MemoryMiBTotal { get; init; }

    /// <summary>Memory in use in MiB (by instances and the host itself, as the hypervisor reports).</summary>
    public required long MemoryMiBUsed { get; init; }

    /// <summary>Local instance storage in GiB.</summary>
    public required long LocalDiskGiBTotal { get; init; }

    /// <summary>Local instance storage in use, in GiB.</summary>
    public required long LocalDiskGiBUsed { get; init; }

    /// <summary>Guest architectures the host can run ("x86_64", "i686", "aarch64", ...).</summary>
    public required IReadOnlyList<string> SupportedArchitectures { get; init; }

    /// <summary>Time since the host booted; zero when the hypervisor does not say.</summary>
    public TimeSpan Uptime { get; init; }

    /// <summary>vCPUs free for placement.</summary>
    public int VCpusFree => Math.Max(0, VCpusTotal - VCpusUsed);

    /// <summary>Memory free for placement, in MiB.</summary>
    public long MemoryMiBFree => Math.Max(0, MemoryMiBTotal - MemoryMiBUsed);
}

/// <summary>The host CPU's model and topology.</summary>
/// <param name="Model">Model name ("Skylake-Client-IBRS", "Intel(R) Xeon(R) ...").</param>
/// <param name="Vendor">Vendor ("Intel", "AMD"), or empty.</param>
/// <param name="Architecture">Host architecture ("x86_64").</param>
/// <param name="Sockets">Sockets.</param>
/// <param name="CoresPerSocket">Cores per socket.</param>
/// <param name="ThreadsPerCore">Threads per core.</param>
/// <param name="FrequencyMHz">Nominal frequency in MHz, or 0.</param>
public sealed record CpuInfo(string Model, string Vendor, string Architecture, int Sockets, int CoresPerSocket, int ThreadsPerCore, int FrequencyMHz = 0);
