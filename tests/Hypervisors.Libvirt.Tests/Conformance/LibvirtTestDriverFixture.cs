using Hypervisors.Conformance;
using Hypervisors.Testing;

namespace Hypervisors.Libvirt.Tests;

/// <summary>
/// The kit's fixture on libvirt's in-memory test driver (no daemon). <c>test:///default</c> is one host shared
/// by every connection of the process (the suites would see each other's instances and the sample domain "test"),
/// so each fixture loads a private empty host from a node file of its own (<c>test:///path/node.xml</c>): 8 CPUs,
/// 16 GiB, no domains. What the test driver cannot do the driver declares false for <c>test:</c> URIs (volume and
/// interface attach: it has no virDomainAttachDeviceFlags; console output: it runs no guest), and the kit skips
/// those tests.
/// </summary>
public sealed class LibvirtTestDriverFixture : DriverFixture
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "hypervisors-libvirt-kit-" + Guid.NewGuid().ToString("N")[..8]);

    /// <inheritdoc />
    public override bool HostResourcesAreExclusive => true;

    /// <summary>The driver reports the instance directory's real file system, shared with the machine.</summary>
    public override bool HostDiskUsageIsExclusive => false;

    /// <inheritdoc />
    public override TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(1);

    /// <summary>A 1 MiB raw base image in the fixture's folder, when qemu-img (qemu-utils) is there to make overlays on it.</summary>
    public override string? ImageRef => QemuImgAvailable ? Path.Combine(_directory, "base.raw") : null;

    /// <summary>The test driver boots nothing, so any absolute paths do.</summary>
    public override KernelBootSpec? KernelBoot => new("/boot/vmlinuz-kit", "/boot/initrd-kit.img", "console=ttyS0");

    private static bool QemuImgAvailable =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(d => File.Exists(Path.Combine(d, "qemu-img")));

    /// <inheritdoc />
    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        if (ImageRef is { } image)
        {
            await using var file = File.Create(image);
            file.SetLength(1024 * 1024);
        }
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <inheritdoc />
    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = "libvirt's test driver runs no guest process to kill and has no API that crashes a domain.",
        [FixtureHook.WriteConsole] = "The driver declares SupportsConsoleOutput = false for test: URIs (no guest runs).",
        [FixtureHook.SlowOperation] = "libvirt's test driver answers every call at once in-process; nothing can hold a call in progress.",
        [FixtureHook.FillHost] = "libvirt's test driver does not account host memory against running domains, so no host can be full.",
    };

    /// <inheritdoc />
    public override async Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        new LibvirtDriver(new LibvirtDriverOptions
        {
            Uri = await TestHost.WriteNodeAsync(Path.Combine(_directory, "own-" + Guid.NewGuid().ToString("N")[..8])),
            InstanceDirectory = Path.Combine(_directory, "instances"),
        });

    /// <inheritdoc />
    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        ExternalParts.Require(LibvirtDriver.IsLibvirtAvailable(), "libvirt.so.0 (Debian package libvirt0)");
        return new LibvirtDriver(new LibvirtDriverOptions
        {
            Uri = await TestHost.WriteNodeAsync(_directory),
            InstanceDirectory = Path.Combine(_directory, "instances"),
            AllowedHostDirectories = { _directory, "/boot", "/var/lib/hypervisors-kit" },
        });
    }
}
