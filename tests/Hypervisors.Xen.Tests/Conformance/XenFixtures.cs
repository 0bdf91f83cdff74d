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
public abstract class XenFixture(XenApiTransport transport, bool guestsHavePvDrivers) : DriverFixture
{
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

    /// <summary>A base-image VDI the fixture puts in the simulator's SR; disks from it are VDI clones.</summary>
    public override string? ImageRef => "kit-base-image";

    public override VolumeSpec CreateVolumeSpec(string volumeId) => new(volumeId, Simulator.CreateVdi(volumeId, 1L << 30));

    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        _simulator = await XenApiSimulatorHost.StartAsync(new XenApiSimulatorOptions { GuestsHavePvDrivers = guestsHavePvDrivers });
        _simulator.CreateVdi("kit-base-image", 1L << 30);
        return new XenDriver(new XenDriverOptions { Url = _simulator.Url, Transport = transport }.UseCredentials("root", "xenroot"));
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_simulator is not null)
        {
            await _simulator.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}

/// <summary>The driver over XML-RPC; new guests without PV drivers.</summary>
public sealed class XenXmlRpcFixture() : XenFixture(XenApiTransport.XmlRpc, guestsHavePvDrivers: false);

/// <summary>The driver over JSON-RPC; new guests without PV drivers.</summary>
public sealed class XenJsonRpcFixture() : XenFixture(XenApiTransport.JsonRpc, guestsHavePvDrivers: false);

/// <summary>The driver over XML-RPC; guests with PV drivers.</summary>
public sealed class XenXmlRpcPvDriversFixture() : XenFixture(XenApiTransport.XmlRpc, guestsHavePvDrivers: true);

/// <summary>The driver over JSON-RPC; guests with PV drivers.</summary>
public sealed class XenJsonRpcPvDriversFixture() : XenFixture(XenApiTransport.JsonRpc, guestsHavePvDrivers: true);
