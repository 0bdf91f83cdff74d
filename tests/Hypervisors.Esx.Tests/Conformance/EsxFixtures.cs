using Hypervisors.Conformance;
using Hypervisors.Esx.Tests.Vcsim;

namespace Hypervisors.Esx.Tests.Conformance;

/// <summary>
/// The kit's fixture for the ESX driver against its own vcsim: standalone ESX or vCenter model, plain HTTP or
/// HTTPS trusted through a pinned SHA-256 thumbprint. Specs carry a thin disk and a NIC with a fixed MAC.
/// </summary>
public abstract class EsxFixture(bool vcenter, bool tls) : DriverFixture
{
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hv-esx-kit-images-");
    private VcsimServer? _server;

    public VcsimServer Server => _server ?? throw new InvalidOperationException("Not initialized.");

    public override string NetworkName => "VM Network";

    public override TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(2);

    public override InstanceSpec CreateSpec(Guid id, string name) => base.CreateSpec(id, name) with
    {
        Disks = [new DiskSpec(1)],
        NetworkInterfaces = [new NetworkInterfaceSpec(NetworkName, "02:50:56:" + id.ToString("N")[..2] + ":" + id.ToString("N")[2..4] + ":" + id.ToString("N")[4..6])],
    };

    /// <summary>A raw disk image of this host, which the driver uploads to the datastore.</summary>
    public override string? ImageRef => Path.Combine(_images.FullName, "kit-base.raw");

    public override VolumeSpec CreateVolumeSpec(string volumeId) => new(volumeId, Server.CreateVolumeFile(volumeId));

    public override async ValueTask InitializeAsync()
    {
        _server = await VcsimServer.StartAsync(vcenter, tls);
        await File.WriteAllBytesAsync(ImageRef!, new byte[64 * 1024]);
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _images.Delete(recursive: true);

        GC.SuppressFinalize(this);
    }

    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = "vcsim runs no guests and vSphere has no crashed power state to set (a crashed guest stays poweredOn).",
        [FixtureHook.WriteConsole] = "The ESX driver declares SupportsConsoleOutput = false.",
        [FixtureHook.SlowOperation] = "vcsim's method delays (DelayConfig) are fixed when it starts, so one operation cannot be slowed for one test.",
        [FixtureHook.FillHost] = "vcsim does not refuse power-on for lack of host memory or CPU (it does no admission control).",
    };

    public override async Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken)
    {
        var driver = new EsxDriver(Options());
        await driver.ConnectAsync(cancellationToken);
        return driver;
    }

    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        var driver = new EsxDriver(Options());
        await driver.ConnectAsync();
        return driver;
    }

    private EsxDriverOptions Options()
    {
        var options = Server.CreateOptions();
        options.AllowedHostDirectories.Add(_images.FullName);
        return options;
    }
}

public sealed class EsxHttpFixture() : EsxFixture(vcenter: false, tls: false);

public sealed class EsxHttpsFixture() : EsxFixture(vcenter: false, tls: true);

public sealed class VCenterHttpFixture() : EsxFixture(vcenter: true, tls: false);

public sealed class VCenterHttpsFixture() : EsxFixture(vcenter: true, tls: true);
