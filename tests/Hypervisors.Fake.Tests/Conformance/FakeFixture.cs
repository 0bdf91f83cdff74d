using Hypervisors.Conformance;

namespace Hypervisors.Fake.Tests;

/// <summary>The kit's fixture for the fake: a fresh in-memory host per suite class, used by nothing else.</summary>
public class FakeFixture : DriverFixture
{
    /// <inheritdoc />
    public override bool HostResourcesAreExclusive => true;

    /// <inheritdoc />
    public override TimeSpan GracefulStopTimeout => TimeSpan.FromMilliseconds(200);

    /// <inheritdoc />
    public override string? ImageRef => "/var/lib/fake-hypervisor/images/debian-12.qcow2";

    /// <inheritdoc />
    public override KernelBootSpec? KernelBoot => new("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0");

    /// <summary>Makes the driver under test; the kit-has-teeth tests override it with broken variants.</summary>
    protected virtual IHypervisorDriver MakeDriver() => new FakeHypervisorDriver(new FakeHypervisorOptions { AllowedHostDirectories = { "/var/lib/fake-hypervisor/images", "/boot", "/var/lib/hypervisors-kit" } });

    /// <inheritdoc />
    protected override Task<IHypervisorDriver> CreateDriverAsync() => Task.FromResult(MakeDriver());
}
