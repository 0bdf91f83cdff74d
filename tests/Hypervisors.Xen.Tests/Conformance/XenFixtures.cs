using Hypervisors.Conformance;
using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Conformance;

/// <summary>
/// The kit's fixture for the Xen driver: each fixture starts its own XenAPI simulator in-process on a loopback
/// port, so the host's resources belong to that fixture alone. Specs carry one disk and one interface, so create,
/// list, devices and delete go through VDI, VBD and VIF too.
/// </summary>
public abstract class XenFixture : DriverFixture
{
    private XenApiSimulatorHost? _simulator;

    public XenApiSimulatorHost Simulator => _simulator ?? throw new InvalidOperationException("The fixture has not been initialized.");

    protected abstract XenApiTransport Transport { get; }

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

    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        _simulator = await XenApiSimulatorHost.StartAsync();
        _simulator.CreateVdi("kit-base-image", 1L << 30);
        return NewDriver();
    }

    private XenDriver NewDriver() => new(new XenDriverOptions { Url = Simulator.Url, Transport = Transport }.UseCredentials("root", "xenroot"));

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

/// <summary>The driver over XML-RPC.</summary>
public sealed class XenXmlRpcFixture : XenFixture
{
    protected override XenApiTransport Transport => XenApiTransport.XmlRpc;
}

/// <summary>The driver over JSON-RPC.</summary>
public sealed class XenJsonRpcFixture : XenFixture
{
    protected override XenApiTransport Transport => XenApiTransport.JsonRpc;
}

/// <summary>Ends a simulator control when the kit disposes it.</summary>
internal sealed class Release(IDisposable control) : IAsyncDisposable
{
    public ValueTask DisposeAsync()
    {
        control.Dispose();
        return ValueTask.CompletedTask;
    }
}
