using Hypervisors.Conformance;

namespace Hypervisors.Uml.Tests;

/// <summary>
/// The kit's fixture on real UML guests: each instance boots the busybox root over hostfs with one COW disk over a
/// small base image, so every power operation acts on a running kernel. Guests are cheap (a second to boot, 64 MiB)
/// but the machine has two cores, so the concurrency suites run fewer of them at a time. Hooks: a crash is a real
/// kernel panic (<c>sysrq c</c> through the mconsole); console text is appended to the log the kernel's console
/// writes to; the own driver keeps its state in a folder of its own on the same host.
/// </summary>
public sealed class UmlKitFixture : DriverFixture
{
    private readonly UmlTestHost _host = new();

    public override TimeSpan EventTimeout => TimeSpan.FromSeconds(60);

    public override TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(20);

    public override int Parallelism => 4;

    public override int ConcurrentInstanceCount => 8;

    /// <summary>UML 6.1 (Debian's linux.uml) is built uniprocessor, so the driver refuses more than one vCPU.</summary>
    public override int? MaxVCpus => UmlDriver.MaxVCpus;

    public override string? ImageRef => _host.BaseImage;

    public override KernelBootSpec? KernelBoot => _host.KernelBoot;

    /// <summary>The driver's console tail (<see cref="UmlDriverOptions.ConsoleTailBytes"/>); the guest writes ASCII.</summary>
    public override int ConsoleBufferCharacters => _host.Options().ConsoleTailBytes;

    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.SlowOperation] =
            "The UML driver's peer is a local kernel process and local files: creates and deletes are file operations and a start waits only " +
            "for the kernel's own mconsole announcement, so nothing outside the driver can hold one call in progress.",
        [FixtureHook.FillHost] =
            "A UML guest is an ordinary host process whose memory is mapped on use; neither the kernel nor the driver does admission, " +
            "so a host cannot be made full for it (as with QEMU under libvirt).",
    };

    public override InstanceSpec CreateSpec(Guid id, string name) => _host.Spec(id, name) with
    {
        Metadata = new Dictionary<string, string> { ["kit"] = "conformance" },
    };

    public override VolumeSpec CreateVolumeSpec(string volumeId) => _host.Volume(volumeId + "-" + Guid.NewGuid().ToString("N")[..6]) with { VolumeId = volumeId };

    /// <summary>Makes the guest kernel panic (<c>sysrq c</c>); it dies before it can answer, so the request's failure is expected.</summary>
    public override async Task CrashInstanceAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        try
        {
            await ((UmlDriver)Driver).SendMconsoleCommandAsync(instanceId, "sysrq c", cancellationToken);
        }
        catch (HypervisorException)
        {
            // The panicking kernel closes its mconsole without answering; the kit waits for Crashed.
        }
    }

    /// <summary>Appends to the file the guest kernel's console is written to (opened for appending), as the guest would.</summary>
    public override Task WriteConsoleAsync(Guid instanceId, string text, CancellationToken cancellationToken) =>
        File.AppendAllTextAsync(Path.Combine(_host.StateDirectory, "instances", instanceId.ToString("D"), "console.log"), text, cancellationToken);

    /// <summary>A second driver on this host with a state folder of its own, so it adopts none of the fixture driver's guests.</summary>
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(new UmlDriver(_host.Options(o => o.StateDirectory = Path.Combine(_host.Root, "own-" + Guid.NewGuid().ToString("N")[..6]))));

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _host.Dispose();
    }

    protected override Task<IHypervisorDriver> CreateDriverAsync()
    {
        UmlTestHost.Require();
        return Task.FromResult<IHypervisorDriver>(new UmlDriver(_host.Options()));
    }
}
