using Hypervisors.Conformance;
using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Conformance;

/// <summary>
/// The kit's fixture for the Xen driver: each fixture starts its own XenAPI simulator in-process on a loopback
/// port, so the host's resources belong to that fixture alone. Specs carry one disk and one interface, so create,
/// list, devices and delete go through VDI, VBD and VIF too. The guests either have no PV drivers, as every new
/// HVM guest under xapi (clean shutdown, clean reboot, suspend and hot-plug are refused), or have them.
/// </summary>
/// <param name="transport">XML-RPC or JSON-RPC.</param>
/// <param name="guestsHavePvDrivers">Whether the simulated guests have PV drivers (and so can shut down, reboot, suspend and hot-plug cleanly).</param>
/// <param name="imagesFromFiles">
/// Whether disks from an image start from a raw file of this machine (imported through <c>/import_raw_vdi</c>) or from
/// a VDI in the SR (cloned).
/// </param>
public abstract class XenFixture(XenApiTransport transport, bool guestsHavePvDrivers, bool imagesFromFiles) : DriverFixture, IConnectionLossFixture
{
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hv-xen-kit-images-");
    private XenApiSimulatorHost? _simulator;

    public XenApiSimulatorHost Simulator => _simulator ?? throw new InvalidOperationException("The fixture has not been initialized.");

    public override bool GuestsCooperate => guestsHavePvDrivers;

    public override bool HostResourcesAreExclusive => true;

    public override string NetworkName => new XenApiSimulatorOptions().NetworkName;

    public override InstanceSpec CreateSpec(Guid id, string name) => base.CreateSpec(id, name) with
    {
        Disks = [new DiskSpec(1)],
        NetworkInterfaces = [new NetworkInterfaceSpec(NetworkName)],
    };

    /// <summary>
    /// A raw image file in the driver's allowed directory (imported into a new VDI per disk), or a base-image VDI the
    /// fixture puts in the simulator's SR (cloned per disk).
    /// </summary>
    public override string? ImageRef => imagesFromFiles ? Path.Combine(_images.FullName, "kit-base.raw") : "kit-base-image";

    public override VolumeSpec CreateVolumeSpec(string volumeId) => new(volumeId, Simulator.CreateVdi(volumeId, 1L << 30));

    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = "XenAPI has no crashed power state: xapi applies actions_after_crash (destroy leaves the VM Halted, restart Running), so a crash is never observable as a state.",
        [FixtureHook.WriteConsole] = "The Xen driver declares SupportsConsoleOutput = false.",
    };

    /// <summary>Slows the XenAPI method the driver calls for <paramref name="operation"/> in the simulator.</summary>
    public override Task<IAsyncDisposable?> SlowDownAsync(InstanceOperation operation, CancellationToken cancellationToken)
    {
        var method = operation switch
        {
            InstanceOperation.Create => "VM.create",
            InstanceOperation.Start => "VM.start",
            InstanceOperation.Stop => "VM.clean_shutdown",
            InstanceOperation.PowerOff => "VM.hard_shutdown",
            InstanceOperation.Pause => "VM.pause",
            InstanceOperation.Delete => "VM.destroy",
            _ => null,
        };
        return Task.FromResult<IAsyncDisposable?>(method is null ? null : new Release(Simulator.Options.Control.SlowDown(method, TimeSpan.FromMinutes(1))));
    }

    /// <summary>Leaves the simulated host no free memory.</summary>
    public override Task<IAsyncDisposable> FillHostAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IAsyncDisposable>(new Release(XenApiSimulatorControl.FillHost(Simulator.Database)));

    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(NewDriver());

    /// <summary>
    /// Cuts the driver off as a xapi restart does: every session is dropped, a second driver makes its changes, and
    /// the server's event log moves past the driver's token (EVENTS_LOST), so the driver must log in again and
    /// resynchronise from the VM list.
    /// </summary>
    public async Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken)
    {
        Simulator.KillAllSessions();
        if (whileDown is not null)
        {
            await using var other = NewDriver();
            await whileDown(other);
        }

        lock (Simulator.Database.Gate)
        {
            var pool = Simulator.Database.First("pool");
            for (var i = 0; i <= Simulator.Database.EventLogCapacity; i++)
            {
                Simulator.Database.Inject(pool);
            }
        }

        Simulator.KillAllSessions();
    }

    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        _simulator = await XenApiSimulatorHost.StartAsync(new XenApiSimulatorOptions { GuestsHavePvDrivers = guestsHavePvDrivers });
        _simulator.CreateVdi("kit-base-image", 1L << 30);
        var image = new byte[64 * 1024];
        Random.Shared.NextBytes(image);
        await File.WriteAllBytesAsync(Path.Combine(_images.FullName, "kit-base.raw"), image);
        return NewDriver();
    }

    private XenDriver NewDriver()
    {
        var options = new XenDriverOptions { Url = Simulator.Url, Transport = transport }.UseCredentials("root", "xenroot");
        options.AllowedHostDirectories.Add(_images.FullName);
        return new XenDriver(options);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_simulator is not null)
        {
            await _simulator.DisposeAsync();
        }

        _images.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }
}

/// <summary>The driver over XML-RPC; new guests without PV drivers; image disks imported from a raw file.</summary>
public sealed class XenXmlRpcFixture() : XenFixture(XenApiTransport.XmlRpc, guestsHavePvDrivers: false, imagesFromFiles: true);

/// <summary>The driver over JSON-RPC; new guests without PV drivers; image disks cloned from a VDI.</summary>
public sealed class XenJsonRpcFixture() : XenFixture(XenApiTransport.JsonRpc, guestsHavePvDrivers: false, imagesFromFiles: false);

/// <summary>The driver over XML-RPC; guests with PV drivers; image disks cloned from a VDI.</summary>
public sealed class XenXmlRpcPvDriversFixture() : XenFixture(XenApiTransport.XmlRpc, guestsHavePvDrivers: true, imagesFromFiles: false);

/// <summary>The driver over JSON-RPC; guests with PV drivers; image disks imported from a raw file.</summary>
public sealed class XenJsonRpcPvDriversFixture() : XenFixture(XenApiTransport.JsonRpc, guestsHavePvDrivers: true, imagesFromFiles: true);

/// <summary>Ends a simulator control when the kit disposes it.</summary>
internal sealed class Release(IDisposable control) : IAsyncDisposable
{
    public ValueTask DisposeAsync()
    {
        control.Dispose();
        return ValueTask.CompletedTask;
    }
}
