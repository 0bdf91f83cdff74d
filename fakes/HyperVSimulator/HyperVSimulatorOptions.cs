namespace HyperVSimulator;

/// <summary>The simulated Hyper-V host: its credentials, identity and resources.</summary>
public sealed record HyperVSimulatorOptions
{
    /// <summary>The Basic-auth user name.</summary>
    public string UserName { get; init; } = "Administrator";

    /// <summary>The Basic-auth password.</summary>
    public string Password { get; init; } = "Passw0rd!";

    /// <summary>The host's computer name.</summary>
    public string HostName { get; init; } = "HVSIM01";

    /// <summary>Logical processors of the host.</summary>
    public int LogicalProcessors { get; init; } = 32;

    /// <summary>Physical cores of the host (one socket).</summary>
    public int Cores { get; init; } = 16;

    /// <summary>Host memory in MiB.</summary>
    public long MemoryMiB { get; init; } = 256 * 1024;

    /// <summary>Host volume C: size in GiB.</summary>
    public long DiskGiB { get; init; } = 2048;

    /// <summary>The virtual switches that exist (Msvm_VirtualEthernetSwitch.ElementName).</summary>
    public IReadOnlyList<string> Switches { get; init; } = ["default", "External"];

    /// <summary>VHDX files that exist at start (base images for differencing disks).</summary>
    public IReadOnlyList<string> ImageFiles { get; init; } = [@"C:\Images\base.vhdx"];

    /// <summary>
    /// Shares the host reaches, by the path it opens them with (<c>\\fileserver\images</c>) and the directory of this
    /// machine holding their files: a file put there by another machine is seen by the host at once, as over SMB.
    /// </summary>
    public IReadOnlyDictionary<string, string> SharedDirectories { get; init; } = new Dictionary<string, string>();

    /// <summary>The largest request envelope accepted, in bytes (WinRM's MaxEnvelopeSizekb is 500 by default).</summary>
    public int MaxEnvelopeSize { get; init; } = 500 * 1024;

    /// <summary>When set, the simulator serves HTTPS with this certificate (it needs its private key) instead of HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>Items per batch when the client does not say (WinRM returns small batches by default).</summary>
    public int DefaultMaxElements { get; init; } = 20;
}
