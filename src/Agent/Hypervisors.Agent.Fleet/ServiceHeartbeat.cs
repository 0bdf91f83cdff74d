namespace Hypervisors.Agent.Fleet;

/// <summary>What an agent publishes every report interval on <c>heartbeat.{host}</c>.</summary>
public sealed record ServiceHeartbeat
{
    /// <summary>The agent's host name (its queue is <c>{topic}.{host}</c>).</summary>
    public required string Host { get; init; }

    /// <summary>When the agent sent it.</summary>
    public required DateTimeOffset SentAt { get; init; }

    /// <summary>How often the agent reports.</summary>
    public required TimeSpan ReportInterval { get; init; }

    /// <summary>Whether the agent's last self-probe through the broker came back.</summary>
    public required bool Ready { get; init; }

    /// <summary>Each driver's capacity.</summary>
    public required IReadOnlyList<DriverCapacity> Drivers { get; init; }
}

/// <summary>One driver's capacity, as its host reports it.</summary>
public sealed record DriverCapacity
{
    /// <summary>The driver's name in the agent.</summary>
    public required string Driver { get; init; }

    /// <summary>The hypervisor family.</summary>
    public string? HypervisorType { get; init; }

    /// <summary>Logical CPUs offered to guests.</summary>
    public int VCpusTotal { get; init; }

    /// <summary>vCPUs in use.</summary>
    public int VCpusUsed { get; init; }

    /// <summary>Memory in MiB.</summary>
    public long MemoryMiBTotal { get; init; }

    /// <summary>Memory in use in MiB.</summary>
    public long MemoryMiBUsed { get; init; }

    /// <summary>Local disk in GiB.</summary>
    public long LocalDiskGiBTotal { get; init; }

    /// <summary>Local disk in use in GiB.</summary>
    public long LocalDiskGiBUsed { get; init; }

    /// <summary>Why the driver gave no figures (it did not answer), or null.</summary>
    public string? Error { get; init; }

    /// <summary>vCPUs free.</summary>
    public int VCpusFree => Math.Max(0, VCpusTotal - VCpusUsed);

    /// <summary>Memory free in MiB.</summary>
    public long MemoryMiBFree => Math.Max(0, MemoryMiBTotal - MemoryMiBUsed);
}
