namespace Hypervisors.Uml;

/// <summary>Settings of a <see cref="UmlDriver"/>; checked by <see cref="Validate"/> when the host starts (or the driver is constructed). Binds from configuration (<c>Agent:Drivers:{name}</c> with <c>Kind = uml</c>).</summary>
public sealed class UmlDriverOptions : IValidatableOptions
{
    /// <summary>
    /// The driver's root: <c>instances/{id}/</c> holds each instance's record, console log, disks and notify socket;
    /// <c>run/{id}/</c> is the kernel's own directory (<c>uml_dir</c>: pid file and mconsole socket). Keep it short:
    /// a Unix socket path has at most 107 bytes.
    /// </summary>
    public string StateDirectory { get; set; } = "/var/lib/hypervisors/uml";

    /// <summary>The UML kernel booted when a spec names none (Debian's user-mode-linux package).</summary>
    public string KernelPath { get; set; } = "/usr/bin/linux.uml";

    /// <summary>
    /// Folders whose files specs may use: base images of disks (<see cref="DiskSpec.ImageRef"/>), kernels and initrds
    /// of <see cref="InstanceSpec.KernelBoot"/>, and the <c>hostfs=</c> root a command line may name.
    /// </summary>
    public IList<string> AllowedImageDirectories { get; } = [];

    /// <summary>Folders whose files may be attached as volumes.</summary>
    public IList<string> AllowedVolumeDirectories { get; } = [];

    /// <summary>
    /// The networks interfaces may join: name to host bridge. A tap device is made for each interface and added to
    /// the bridge; an empty bridge leaves the tap unbridged (a network of its own). Names not listed are refused.
    /// </summary>
    public IDictionary<string, string> Networks { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Kernel arguments added before a spec's command line (for example <c>root=/dev/ubda</c>).</summary>
    public string DefaultCommandLine { get; set; } = string.Empty;

    /// <summary>Debian's COW merge tool (uml-utilities).</summary>
    public string MooPath { get; set; } = "/usr/bin/uml_moo";

    /// <summary>iproute2's <c>ip</c>, for tap devices.</summary>
    public string IpPath { get; set; } = "/usr/sbin/ip";

    /// <summary>How long one mconsole request waits for its answer.</summary>
    public TimeSpan MconsoleTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a start (or reboot) waits for the kernel to announce its mconsole socket.</summary>
    public TimeSpan BootTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a power off waits after <c>halt</c> before killing the process group.</summary>
    public TimeSpan HaltTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often an adopted guest (not a child of this process) is checked for exit.</summary>
    public TimeSpan ExitPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How many bytes of the console log <see cref="IHypervisorDriver.GetConsoleOutputAsync"/> returns at most.</summary>
    public int ConsoleTailBytes { get; set; } = 64 * 1024;

    /// <summary>What is wrong with these options, each message naming its key under <paramref name="keyPrefix"/>; empty when valid.</summary>
    public IEnumerable<string> Validate(string keyPrefix)
    {
        foreach (var (value, key) in new[] { (StateDirectory, nameof(StateDirectory)), (KernelPath, nameof(KernelPath)), (MooPath, nameof(MooPath)), (IpPath, nameof(IpPath)) })
        {
            if (!IsAbsolute(value))
            {
                yield return $"{keyPrefix}:{key}: '{value}' is not an absolute path.";
            }
        }

        foreach (var (folders, key) in new[] { (AllowedImageDirectories, nameof(AllowedImageDirectories)), (AllowedVolumeDirectories, nameof(AllowedVolumeDirectories)) })
        {
            foreach (var failure in HostPathPolicy.Validate(folders, $"{keyPrefix}:{key}"))
            {
                yield return failure;
            }
        }

        // instances/{36-character id}/notify must fit a sockaddr_un.
        if (IsAbsolute(StateDirectory) && Path.Combine(StateDirectory, "instances", Guid.Empty.ToString(), "notify").Length > 107)
        {
            yield return $"{keyPrefix}:{nameof(StateDirectory)}: is too long for the Unix sockets under it (at most 107 bytes per socket path).";
        }

        foreach (var (value, key) in new[] { (MconsoleTimeout, nameof(MconsoleTimeout)), (BootTimeout, nameof(BootTimeout)), (HaltTimeout, nameof(HaltTimeout)), (ExitPollInterval, nameof(ExitPollInterval)) })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"{keyPrefix}:{key}: must be positive, was {value}.";
            }
        }

        if (ConsoleTailBytes <= 0)
        {
            yield return $"{keyPrefix}:{nameof(ConsoleTailBytes)}: must be positive, was {ConsoleTailBytes}.";
        }
    }

    private static bool IsAbsolute(string? path) => !string.IsNullOrWhiteSpace(path) && Path.IsPathFullyQualified(path);
}
