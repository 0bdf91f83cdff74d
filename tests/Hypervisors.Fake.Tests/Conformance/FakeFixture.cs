using Hypervisors.Conformance;

namespace Hypervisors.Fake.Tests;

/// <summary>
/// The kit's fixture for the fake: a fresh in-memory host per suite class, used by nothing else. Every hook is
/// implemented against the fake itself (crash, latency faults, shrunken capacity, guest console output).
/// </summary>
public class FakeFixture : DriverFixture
{
    private const int ConsoleLimit = 4096;

    /// <inheritdoc />
    public override bool HostResourcesAreExclusive => true;

    /// <inheritdoc />
    public override bool EmitsExactlyOneEventPerTransition => true;

    /// <inheritdoc />
    public override TimeSpan GracefulStopTimeout => TimeSpan.FromMilliseconds(200);

    /// <inheritdoc />
    public override string? ImageRef => "/var/lib/fake-hypervisor/images/debian-12.qcow2";

    /// <inheritdoc />
    public override KernelBootSpec? KernelBoot => new("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0");

    /// <inheritdoc />
    public override int ConsoleBufferCharacters => ConsoleLimit;

    /// <summary>The healthy fake behind <see cref="DriverFixture.Driver"/> (which a broken variant may wrap).</summary>
    protected FakeHypervisorDriver Fake { get; private set; } = null!;

    /// <inheritdoc />
    public override Task CrashInstanceAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        Fake.SimulateCrash(instanceId);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override Task<IAsyncDisposable?> SlowDownAsync(InstanceOperation operation, CancellationToken cancellationToken)
    {
        Fake.Faults.SetLatency(operation, TimeSpan.FromMinutes(1));
        return Task.FromResult<IAsyncDisposable?>(new Undo(() => Fake.Faults.SetLatency(operation, TimeSpan.Zero)));
    }

    /// <inheritdoc />
    public override async Task<IAsyncDisposable> FillHostAsync(CancellationToken cancellationToken)
    {
        var options = (FakeHypervisorOptions)Fake.GetService(typeof(FakeHypervisorOptions))!;
        var host = await Fake.GetHostInfoAsync(cancellationToken);
        var (vcpus, memory) = (options.VCpus, options.MemoryMiB);
        options.VCpus = host.VCpusUsed;
        options.MemoryMiB = host.MemoryMiBUsed;
        return new Undo(() => (options.VCpus, options.MemoryMiB) = (vcpus, memory));
    }

    /// <inheritdoc />
    public override Task WriteConsoleAsync(Guid instanceId, string text, CancellationToken cancellationToken)
    {
        Fake.SimulateConsoleOutput(instanceId, text);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult(Wrap(new FakeHypervisorDriver(NewOptions())));

    /// <summary>Makes the driver under test; the kit-has-teeth tests override <see cref="Wrap"/> with broken variants.</summary>
    protected virtual IHypervisorDriver MakeDriver() => Wrap(Fake = new FakeHypervisorDriver(NewOptions()));

    /// <summary>What the kit sees of a fake: the fake itself here, a broken variant around it in the teeth tests.</summary>
    protected virtual IHypervisorDriver Wrap(FakeHypervisorDriver fake) => fake;

    /// <inheritdoc />
    protected override Task<IHypervisorDriver> CreateDriverAsync() => Task.FromResult(MakeDriver());

    private static FakeHypervisorOptions NewOptions() => new() { ConsoleOutputLimit = ConsoleLimit, AllowedHostDirectories = { "/var/lib/fake-hypervisor/images", "/boot", "/var/lib/hypervisors-kit" } };

    private sealed class Undo(Action undo) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            undo();
            return ValueTask.CompletedTask;
        }
    }
}
