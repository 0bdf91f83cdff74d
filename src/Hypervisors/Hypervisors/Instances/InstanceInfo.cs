namespace Hypervisors;

/// <summary>An instance as the hypervisor reports it.</summary>
/// <param name="Id">The caller's id.</param>
/// <param name="Name">The instance name.</param>
/// <param name="PowerState">The current power state.</param>
/// <param name="VCpus">Configured virtual CPUs.</param>
/// <param name="MemoryMiB">Configured memory in MiB.</param>
/// <param name="CpuTime">CPU time consumed since the instance last started; zero when unknown.</param>
public sealed record InstanceInfo(Guid Id, string Name, PowerState PowerState, int VCpus, long MemoryMiB, TimeSpan CpuTime)
{
    /// <summary>The hypervisor's own handle (domain UUID, managed object id, OpaqueRef, WMI name), for diagnostics.</summary>
    public string? NativeId { get; init; }

    /// <summary>The metadata given at create.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>The tail of an instance's serial console.</summary>
/// <param name="Text">Console text, decoded as UTF-8 with invalid bytes replaced.</param>
/// <param name="Truncated">Whether older output was dropped to bound the size.</param>
public sealed record ConsoleOutput(string Text, bool Truncated);
