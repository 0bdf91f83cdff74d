using Hypervisors;
using Hypervisors.Conformance;
using Hypervisors.Fake;
using Xunit;

namespace Contoso.Hypervisors.Audit.Tests;

/// <summary>
/// The kit's fixture for the audit driver over a fresh in-memory host (the SDK's fake). It shows what a driver
/// author supplies beyond the driver itself:
/// <list type="bullet">
/// <item>host paths inside the driver's allow-list: the fake refuses kernels, images and volumes outside
/// <see cref="FakeHypervisorOptions.AllowedHostDirectories"/>, so the fixture allows one temporary folder and names
/// only files inside it (<see cref="ImageRef"/>, <see cref="KernelBoot"/>, <see cref="CreateVolumeSpec"/>);</item>
/// <item>every fixture hook (<see cref="FixtureHook"/>) implemented against the driver's peer, here the inner fake
/// (a real driver's fixture reaches its hypervisor; a hook it cannot implement goes into
/// <see cref="DriverFixture.MissingHooks"/> with the reason instead);</item>
/// <item>a way to cut the connection (<see cref="IConnectionLossFixture"/>) for <see cref="ConnectionLossTests{TFixture}"/>.</item>
/// </list>
/// </summary>
public sealed class AuditFixture : DriverFixture, IConnectionLossFixture
{
    private const int ConsoleLimit = 4096;

    // Made when the driver is made, not here: the compliance test constructs fixtures only to read their hooks.
    private readonly string _hostFolder = Path.Combine(Path.GetTempPath(), "contoso-audit-kit-" + Guid.NewGuid().ToString("N")[..8]);
    private FakeHypervisorDriver? _fake;
    private FakeHypervisorOptions? _options;

    public override bool HostResourcesAreExclusive => true;

    public override string? ImageRef => Path.Combine(_hostFolder, "images", "base.qcow2");

    public override KernelBootSpec? KernelBoot => new(Path.Combine(_hostFolder, "boot", "vmlinuz"), Path.Combine(_hostFolder, "boot", "initrd.img"), "console=ttyS0");

    public override int ConsoleBufferCharacters => ConsoleLimit;

    private FakeHypervisorDriver Fake => _fake ?? throw new InvalidOperationException("The fixture has not been initialized.");

    public override VolumeSpec CreateVolumeSpec(string volumeId) => new(volumeId, Path.Combine(_hostFolder, "volumes", volumeId + ".img"));

    /// <summary><see cref="FixtureHook.CrashInstance"/>: the fake's guest "panics".</summary>
    public override Task CrashInstanceAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        Fake.SimulateCrash(instanceId);
        return Task.CompletedTask;
    }

    /// <summary><see cref="FixtureHook.SlowOperation"/>: the fake takes a minute over the operation until the handle is disposed.</summary>
    public override Task<IAsyncDisposable?> SlowDownAsync(InstanceOperation operation, CancellationToken cancellationToken)
    {
        Fake.Faults.SetLatency(operation, TimeSpan.FromMinutes(1));
        return Task.FromResult<IAsyncDisposable?>(new Undo(() => Fake.Faults.SetLatency(operation, TimeSpan.Zero)));
    }

    /// <summary><see cref="FixtureHook.FillHost"/>: the fake host shrinks to what its instances use now.</summary>
    public override async Task<IAsyncDisposable> FillHostAsync(CancellationToken cancellationToken)
    {
        var options = _options!;
        var host = await Fake.GetHostInfoAsync(cancellationToken);
        var (vcpus, memory) = (options.VCpus, options.MemoryMiB);
        options.VCpus = host.VCpusUsed;
        options.MemoryMiB = host.MemoryMiBUsed;
        return new Undo(() => (options.VCpus, options.MemoryMiB) = (vcpus, memory));
    }

    /// <summary><see cref="FixtureHook.WriteConsole"/>: the fake's guest writes to its serial console.</summary>
    public override Task WriteConsoleAsync(Guid instanceId, string text, CancellationToken cancellationToken)
    {
        Fake.SimulateConsoleOutput(instanceId, text);
        return Task.CompletedTask;
    }

    /// <summary><see cref="FixtureHook.OwnDriver"/>: another audit driver (over a host of its own) that the test disposes.</summary>
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(new AuditingHypervisorDriver(new FakeHypervisorDriver(NewOptions())));

    /// <summary>Drops the fake's simulated connection while <paramref name="whileDown"/> runs; the fake has no second client.</summary>
    public async Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken)
    {
        Fake.Faults.Disconnect();
        try
        {
            await Assert.ThrowsAsync<HypervisorUnavailableException>(() => Driver.ListInstancesAsync(cancellationToken));
            if (whileDown is not null)
            {
                await whileDown(null);
            }
        }
        finally
        {
            Fake.Faults.Reconnect();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_hostFolder))
        {
            Directory.Delete(_hostFolder, recursive: true);
        }
    }

    protected override Task<IHypervisorDriver> CreateDriverAsync()
    {
        foreach (var folder in new[] { "images", "boot", "volumes" })
        {
            Directory.CreateDirectory(Path.Combine(_hostFolder, folder));
        }

        _options = NewOptions();
        _fake = new FakeHypervisorDriver(_options);
        return Task.FromResult<IHypervisorDriver>(new AuditingHypervisorDriver(_fake));
    }

    /// <summary>A fake host that may use files inside the fixture's folder only.</summary>
    private FakeHypervisorOptions NewOptions() => new() { ConsoleOutputLimit = ConsoleLimit, AllowedHostDirectories = { _hostFolder } };

    private sealed class Undo(Action undo) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            undo();
            return ValueTask.CompletedTask;
        }
    }
}
