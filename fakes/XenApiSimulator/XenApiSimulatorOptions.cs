namespace XenApiSimulator;

/// <summary>What the simulated pool looks like and how it behaves.</summary>
public sealed class XenApiSimulatorOptions
{
    public string UserName { get; set; } = "root";

    public string Password { get; set; } = "xenroot";

    public string HostName { get; set; } = "xen-sim-01";

    public long HostMemoryBytes { get; set; } = 64L * 1024 * 1024 * 1024;

    public int CpuCount { get; set; } = 16;

    public int SocketCount { get; set; } = 2;

    public long StorageBytes { get; set; } = 2L * 1024 * 1024 * 1024 * 1024;

    public string StorageName { get; set; } = "Local storage";

    public string NetworkName { get; set; } = "Pool-wide network associated with eth0";

    public string TemplateName { get; set; } = "Other install media";

    /// <summary>How long an Async task stays pending before it runs (zero runs it at once, in the background).</summary>
    public TimeSpan TaskDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How many events the server keeps for event.from; a client further behind gets EVENTS_LOST.</summary>
    public int EventLogCapacity { get; set; } = 50_000;

    /// <summary>Serve HTTPS with this certificate (it must carry its private key); null serves plain HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; set; }

    /// <summary>
    /// Every VM created has PV drivers in its guest, which reports them (with feature-shutdown, feature-reboot and
    /// feature-suspend) whenever it runs. False (the default) models xapi with a new HVM guest: no drivers until a
    /// test installs them with <see cref="XenApiSimulatorHost.InstallPvDrivers"/>.
    /// </summary>
    public bool GuestsHavePvDrivers { get; set; }

    /// <summary>Guests ignore clean shutdown requests: Async.VM.clean_shutdown stays pending until cancelled.</summary>
    public bool CleanShutdownHangs { get; set; }

    /// <summary>Test controls beyond XenAPI (slow methods, a full host); see <see cref="XenApiSimulatorControl"/>.</summary>
    public XenApiSimulatorControl Control { get; } = new();
}
