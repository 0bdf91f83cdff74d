using System.Net;
using Hypervisors.Conformance;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>The kit's fixture: a Hyper-V simulator started in this process on a loopback port, and the driver pointed at it.</summary>
public class HyperVFixture : DriverFixture
{
    private HyperVSimulatorServer? _server;

    /// <summary>The running simulator.</summary>
    public HyperVSimulatorServer Server => _server ?? throw new InvalidOperationException("The fixture has not been initialized.");

    /// <inheritdoc />
    public override bool HostResourcesAreExclusive => true;

    /// <inheritdoc />
    public override TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    public override string NetworkName => "default";

    /// <inheritdoc />
    public override string? ImageRef => @"C:\Images\base.vhdx";

    /// <inheritdoc />
    public override VolumeSpec CreateVolumeSpec(string volumeId)
    {
        var path = @"C:\Volumes\" + volumeId + ".vhdx";
        Server.Host.AddHostFile(path, 1L << 30);
        return new VolumeSpec(volumeId, path);
    }

    /// <summary>Driver options pointed at the simulator, for tests that build their own driver.</summary>
    public static HyperVDriverOptions OptionsFor(HyperVSimulatorServer server) => new()
    {
        Url = server.Endpoint,
        Credentials = new NetworkCredential(server.Host.Options.UserName, server.Host.Options.Password),
        DiskDirectory = @"C:\Kit\Disks",
        JobTimeout = TimeSpan.FromSeconds(30),
        JobPollInterval = TimeSpan.FromMilliseconds(50),
    };

    /// <inheritdoc />
    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = "Not yet wired to the simulator.",
        [FixtureHook.WriteConsole] = "The Hyper-V driver declares SupportsConsoleOutput = false: WMI exposes no serial console output.",
        [FixtureHook.SlowOperation] = "Not yet wired to the simulator.",
        [FixtureHook.FillHost] = "Not yet wired to the simulator.",
    };

    /// <inheritdoc />
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(new HyperVDriver(OptionsFor(Server)));

    /// <inheritdoc />
    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        _server = await HyperVSimulatorServer.StartAsync();
        return new HyperVDriver(OptionsFor(_server));
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
