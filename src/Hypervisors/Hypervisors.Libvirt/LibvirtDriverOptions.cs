namespace Hypervisors.Libvirt;

/// <summary>Settings of a <see cref="LibvirtDriver"/>.</summary>
public sealed class LibvirtDriverOptions : IValidatableOptions
{
    /// <summary>
    /// The libvirt connection URI: <c>qemu:///system</c>, <c>qemu+ssh://user@host/system</c>, <c>test:///default</c>
    /// (libvirt's in-memory test driver), ...
    /// </summary>
    public string Uri { get; set; } = "qemu:///system";

    /// <summary>
    /// Where the driver creates each instance's folder (qcow2 overlays, blank disks, the serial console log), on the
    /// host libvirt runs on. Only used for local URIs; the folder of an instance is <c>{InstanceDirectory}/{id}</c>.
    /// </summary>
    public string InstanceDirectory { get; set; } = "/var/lib/hypervisors/instances";

    /// <summary>
    /// The <c>&lt;domain type&gt;</c>. Null picks "test" for <c>test:</c> URIs and "kvm" otherwise; set "qemu"
    /// for software emulation where KVM is missing or unusable.
    /// </summary>
    public string? DomainType { get; set; }

    /// <summary>
    /// The directories of the host whose files may be named as base images, kernels, initrds and volume sources
    /// (checked after resolving <c>..</c> and symbolic links); empty, the default, allows none.
    /// </summary>
    public IList<string> AllowedHostDirectories { get; } = [];

    /// <summary>The guest architecture.</summary>
    public string Architecture { get; set; } = "x86_64";

    /// <summary>The machine type ("pc", "q35"), or null for libvirt's default.</summary>
    public string? MachineType { get; set; }

    /// <summary>The qemu-img program used for overlays and blank disks.</summary>
    public string QemuImgPath { get; set; } = "qemu-img";

    /// <summary>How many bytes of the serial console log <see cref="IHypervisorDriver.GetConsoleOutputAsync"/> returns at most.</summary>
    public int ConsoleTailBytes { get; set; } = 64 * 1024;

    /// <summary>How often a graceful stop polls the domain's state.</summary>
    public TimeSpan ShutdownPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Whether the instance directory, disk images and console logs are on this machine (so the driver can create
    /// and read them). Null decides from the URI: true when it names no host or a loopback host.
    /// </summary>
    public bool? IsLocalHost { get; set; }

    /// <summary>
    /// Whether libvirt calls run on the caller's thread instead of a thread-pool thread. Null decides from the URI:
    /// true for <c>test:</c> URIs, whose driver lives in this process's memory and never waits, so handing each call to
    /// another thread would only add two thread switches; false for everything else, where a call waits on libvirtd
    /// (or a remote host) and must not block the caller.
    /// </summary>
    public bool? RunCallsOnCallerThread { get; set; }

    /// <summary>What is wrong with these options, each message naming its key under <paramref name="keyPrefix"/>; empty when valid.</summary>
    public IEnumerable<string> Validate(string keyPrefix)
    {
        string? uriProblem = null;
        if (string.IsNullOrWhiteSpace(Uri))
        {
            uriProblem = "is required.";
        }
        else
        {
            try
            {
                _ = LibvirtUriProfile.From(Uri, IsLocalHost);
            }
            catch (ArgumentException ex)
            {
                uriProblem = ex.Message.Split(" (Parameter", 2)[0];
            }
        }

        if (uriProblem is not null)
        {
            yield return $"{keyPrefix}:{nameof(Uri)}: {uriProblem}";
        }

        if (string.IsNullOrWhiteSpace(InstanceDirectory) || !Path.IsPathFullyQualified(InstanceDirectory))
        {
            yield return $"{keyPrefix}:{nameof(InstanceDirectory)}: '{InstanceDirectory}' is not an absolute path.";
        }

        foreach (var failure in HostPathPolicy.Validate(AllowedHostDirectories, $"{keyPrefix}:{nameof(AllowedHostDirectories)}"))
        {
            yield return failure;
        }

        if (string.IsNullOrWhiteSpace(Architecture))
        {
            yield return $"{keyPrefix}:{nameof(Architecture)}: is required.";
        }

        if (string.IsNullOrWhiteSpace(QemuImgPath))
        {
            yield return $"{keyPrefix}:{nameof(QemuImgPath)}: is required.";
        }

        if (ConsoleTailBytes is < 1 or > 64 * 1024 * 1024)
        {
            yield return $"{keyPrefix}:{nameof(ConsoleTailBytes)}: must be between 1 and 67108864, was {ConsoleTailBytes}.";
        }

        if (ShutdownPollInterval <= TimeSpan.Zero || ShutdownPollInterval > TimeSpan.FromMinutes(1))
        {
            yield return $"{keyPrefix}:{nameof(ShutdownPollInterval)}: must be between 0 and 1 minute, was {ShutdownPollInterval}.";
        }
    }
}
