namespace Hypervisors.Fake;

/// <summary>The simulated host of a <see cref="FakeHypervisorDriver"/>.</summary>
public sealed class FakeHypervisorOptions
{
    /// <summary>The host name reported by host info.</summary>
    public string HostName { get; set; } = "fake-host";

    /// <summary>The version reported by host info.</summary>
    public string HypervisorVersion { get; set; } = "1.0.0";

    /// <summary>Logical CPUs offered to guests; running and paused instances may not use more.</summary>
    public int VCpus { get; set; } = 64;

    /// <summary>Host memory in MiB; running and paused instances may not use more.</summary>
    public long MemoryMiB { get; set; } = 256 * 1024;

    /// <summary>Local disk in GiB; the disks of all instances may not use more.</summary>
    public long LocalDiskGiB { get; set; } = 16 * 1024;

    /// <summary>Guest architectures reported by host info.</summary>
    public IList<string> Architectures { get; } = ["x86_64", "i686"];

    /// <summary>Whether the simulated guest honours a graceful shutdown request; when false, stops fall back to a hard power off after their timeout.</summary>
    public bool GuestHonoursShutdown { get; set; } = true;

    /// <summary>Most console characters kept per instance; older output is dropped and reported as truncated.</summary>
    public int ConsoleOutputLimit { get; set; } = 64 * 1024;

    /// <summary>
    /// The directories whose files may be named as disk images, kernels, initrds and volume sources (checked after
    /// resolving <c>..</c> and symbolic links); empty, the default, allows none.
    /// </summary>
    public IList<string> AllowedHostDirectories { get; } = [];

    /// <summary>Fault injection for tests: latency, chosen errors and a dropped connection. Shared with the driver.</summary>
    public FakeFaults Faults { get; } = new();

    /// <summary>The clock for CPU time, timestamps, injected latency and graceful-stop timeouts; null means the system clock.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Returns every problem with these options, or an empty list.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(HostName))
        {
            errors.Add("HostName must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(HypervisorVersion))
        {
            errors.Add("HypervisorVersion must not be empty.");
        }

        if (VCpus < 1)
        {
            errors.Add($"VCpus must be at least 1, was {VCpus}.");
        }

        if (MemoryMiB < InstanceSpecValidator.MinMemoryMiB)
        {
            errors.Add($"MemoryMiB must be at least {InstanceSpecValidator.MinMemoryMiB}, was {MemoryMiB}.");
        }

        if (LocalDiskGiB < 1)
        {
            errors.Add($"LocalDiskGiB must be at least 1, was {LocalDiskGiB}.");
        }

        if (Architectures.Count == 0 || Architectures.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("Architectures must list at least one architecture, none empty.");
        }

        if (ConsoleOutputLimit < 256)
        {
            errors.Add($"ConsoleOutputLimit must be at least 256, was {ConsoleOutputLimit}.");
        }

        return errors;
    }
}
