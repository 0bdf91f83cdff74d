using System.Net;
using Hypervisors.Conformance;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// The kit's fixture: a Hyper-V simulator started in this process on a loopback port, and the driver pointed at it. The
/// driver's HTTP goes through a <see cref="PartitionHandler"/>, so the fixture can cut it off the network as a
/// partition would, while other clients still reach the host.
/// </summary>
public class HyperVFixture : DriverFixture, IConnectionLossFixture
{
    /// <summary>The image share's path as the simulated host opens it.</summary>
    public const string ShareHostPath = @"\\fileserver\images";

    private readonly PartitionHandler _network = new(new SocketsHttpHandler());
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hv-hyperv-kit-images-");
    private readonly DirectoryInfo _share = Directory.CreateTempSubdirectory("hv-hyperv-kit-share-");
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
    /// <remarks>A VHDX of this machine: the driver places it in the image share, which the simulated host reaches.</remarks>
    public override string? ImageRef => Path.Combine(_images.FullName, "kit-base.vhdx");

    /// <summary>The directory of this machine behind <see cref="ShareHostPath"/>.</summary>
    public string ShareDirectory => _share.FullName;

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
        UserName = server.Host.Options.UserName,
        Password = server.Host.Options.Password,
        DiskDirectory = @"C:\Kit\Disks",
        JobTimeout = TimeSpan.FromSeconds(30),
        JobPollInterval = TimeSpan.FromMilliseconds(50),
    };

    /// <inheritdoc />
    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] = "Hyper-V has no EnabledState for a crashed guest: a bugcheck leaves the VM Running or restarts it per its AutomaticRecoveryAction.",
        [FixtureHook.WriteConsole] = "The Hyper-V driver declares SupportsConsoleOutput = false: WMI exposes no serial console output.",
    };

    /// <inheritdoc />
    /// <remarks>Holds the WMI method the driver invokes for <paramref name="operation"/> in the simulator.</remarks>
    public override Task<IAsyncDisposable?> SlowDownAsync(InstanceOperation operation, CancellationToken cancellationToken)
    {
        var method = operation switch
        {
            InstanceOperation.Create => "DefineSystem",
            InstanceOperation.Start or InstanceOperation.PowerOff or InstanceOperation.Pause => "RequestStateChange",
            InstanceOperation.Stop => "InitiateShutdown",
            InstanceOperation.Delete => "DestroySystem",
            _ => null,
        };
        return Task.FromResult<IAsyncDisposable?>(method is null ? null : new Release(Server.Host.Behavior.Hold(method, TimeSpan.FromMinutes(1))));
    }

    /// <inheritdoc />
    /// <remarks>Reserves all of the simulated host's memory for another workload.</remarks>
    public override Task<IAsyncDisposable> FillHostAsync(CancellationToken cancellationToken)
    {
        var behavior = Server.Host.Behavior;
        var saved = behavior.ReservedMemoryMiB;
        behavior.ReservedMemoryMiB = Server.Host.Options.MemoryMiB;
        return Task.FromResult<IAsyncDisposable>(new Release(new Restore(() => behavior.ReservedMemoryMiB = saved)));
    }

    /// <summary>
    /// <see cref="OptionsFor"/> with an image share (<paramref name="shareDirectory"/>, which the host opens as
    /// <see cref="ShareHostPath"/>) and <paramref name="imageDirectory"/> allowed for images.
    /// </summary>
    public static HyperVDriverOptions OptionsWithImageShare(HyperVSimulatorServer server, string shareDirectory, string imageDirectory)
    {
        var options = OptionsFor(server);
        options.ImageShare = new HyperVImageShareOptions { LocalDirectory = shareDirectory, HostPath = ShareHostPath };
        options.AllowedHostDirectories.Add(imageDirectory);
        return options;
    }

    /// <summary>A simulator whose host reaches <paramref name="shareDirectory"/> as <see cref="ShareHostPath"/>.</summary>
    public static Task<HyperVSimulatorServer> StartWithShareAsync(string shareDirectory, CancellationToken cancellationToken = default) =>
        HyperVSimulatorServer.StartAsync(new HyperVSimulatorOptions
        {
            SharedDirectories = new Dictionary<string, string> { [ShareHostPath] = shareDirectory },
        }, cancellationToken: cancellationToken);

    /// <inheritdoc />
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(new HyperVDriver(OptionsWithImageShare(Server, _share.FullName, _images.FullName)));

    /// <inheritdoc />
    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        // Only the file type identifier is read by the driver and the simulated host; ImageShareTests use a real VHDX.
        var header = new byte[64 * 1024];
        "vhdxfile"u8.CopyTo(header);
        await File.WriteAllBytesAsync(ImageRef!, header);
        _server = await StartWithShareAsync(_share.FullName);
        var options = OptionsWithImageShare(_server, _share.FullName, _images.FullName);
        options.HttpMessageHandler = _network;
        options.EventPollInterval = TimeSpan.FromMilliseconds(500);
        return new HyperVDriver(options);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Every request of the kit's driver fails as on a broken network until the driver's event poll has failed at least
    /// twice; <paramref name="whileDown"/> gets a driver of its own, on its own connections.
    /// </remarks>
    public async Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken)
    {
        var refusedBefore = _network.Refused;
        _network.Cut = true;
        try
        {
            if (whileDown is not null)
            {
                await using var other = new HyperVDriver(OptionsWithImageShare(Server, _share.FullName, _images.FullName));
                await whileDown(other);
            }

            using var patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            patience.CancelAfter(TimeSpan.FromSeconds(20));
            while (_network.Refused < refusedBefore + 2)
            {
                await Task.Delay(50, patience.Token);
            }
        }
        finally
        {
            _network.Cut = false;
        }
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _network.Dispose();
        _images.Delete(recursive: true);
        _share.Delete(recursive: true);
        GC.SuppressFinalize(this);
    }
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

/// <summary>Runs an action once on dispose.</summary>
internal sealed class Restore(Action restore) : IDisposable
{
    public void Dispose() => restore();
}

/// <summary>A handler that, while <see cref="Cut"/>, fails every request as a broken network does.</summary>
internal sealed class PartitionHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private int _refused;
    private volatile bool _cut;

    /// <summary>Whether requests fail.</summary>
    public bool Cut
    {
        get => _cut;
        set => _cut = value;
    }

    /// <summary>How many requests failed so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (Cut)
        {
            Interlocked.Increment(ref _refused);
            throw new HttpRequestException("Network partition (test): the host cannot be reached.");
        }

        return base.SendAsync(request, cancellationToken);
    }
}
