using Hypervisors.Conformance;
using Hypervisors.Libvirt.Tests.RealGuest;

namespace Hypervisors.Libvirt.Tests;

/// <summary>
/// The kit's fixture on the shared libvirtd with real QEMU guests (<c>qemu:///system</c>, the CI guest kernel booted
/// directly, software emulation), used for the hooks the test driver cannot give: a console log the guest writes to.
/// Only <see cref="FaultTests{TFixture}"/> runs on it; the other suites run on <see cref="LibvirtTestDriverFixture"/>.
/// </summary>
public sealed class LibvirtQemuFixture : DriverFixture
{
    private const int ConsoleTail = 8 * 1024;

    /// <inheritdoc />
    public override TimeSpan EventTimeout => TimeSpan.FromSeconds(60);

    /// <inheritdoc />
    public override int ConsoleBufferCharacters => ConsoleTail;

    /// <inheritdoc />
    public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
    {
        [FixtureHook.CrashInstance] =
            "A QEMU process killed under libvirtd leaves the domain shut off with reason 'crashed', which only a start clears, so Stop and PowerOff " +
            "from Crashed could never read back Shutdown; the driver reports it Shutdown (as Nova does). libvirt's own crashed state needs a guest " +
            "panic with on_crash=preserve and a panic device, which the driver's domain XML and the CI guest do not have.",
        [FixtureHook.SlowOperation] = "libvirtd is shared by the whole machine; the fixture has no way to hold one call in it.",
        [FixtureHook.FillHost] = "QEMU/KVM under libvirt does no memory admission: a start beyond free memory overcommits instead of failing.",
    };

    /// <summary>A kernel-booted CI guest without disks.</summary>
    public override InstanceSpec CreateSpec(Guid id, string name) => base.CreateSpec(id, name) with
    {
        MemoryMiB = 128,
        KernelBoot = new KernelBootSpec(CiHost.Kernel, CiHost.Initramfs, "console=ttyS0 quiet panic=-1"),
    };

    /// <summary>Appends to the serial log file QEMU writes the guest's console to, as the guest would.</summary>
    public override async Task WriteConsoleAsync(Guid instanceId, string text, CancellationToken cancellationToken)
    {
        var path = Path.Combine(CiHost.InstanceDirectory, instanceId.ToString("D"), "console.log");
        await File.AppendAllTextAsync(path, text, cancellationToken);
    }

    /// <inheritdoc />
    public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IHypervisorDriver>(NewDriver());

    /// <inheritdoc />
    protected override Task<IHypervisorDriver> CreateDriverAsync()
    {
        CiHost.Require();
        return Task.FromResult<IHypervisorDriver>(NewDriver());
    }

    private static LibvirtDriver NewDriver() => CiHost.NewDriver(o => o.ConsoleTailBytes = ConsoleTail);
}
