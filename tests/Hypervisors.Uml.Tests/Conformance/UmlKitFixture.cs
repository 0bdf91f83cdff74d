using Hypervisors.Conformance;

namespace Hypervisors.Uml.Tests;

/// <summary>
/// The kit's fixture on real UML guests: each instance boots the busybox root over hostfs with one COW disk over a
/// small base image, so every power operation acts on a running kernel. Guests are cheap (a second to boot, 64 MiB)
/// but the machine has two cores, so the concurrency suites run fewer of them at a time.
/// </summary>
public sealed class UmlKitFixture : DriverFixture
{
    private readonly UmlTestHost _host = new();

    public override TimeSpan EventTimeout => TimeSpan.FromSeconds(60);

    public override TimeSpan GracefulStopTimeout => TimeSpan.FromSeconds(20);

    public override int Parallelism => 4;

    public override int ConcurrentInstanceCount => 8;

    public override string? ImageRef => _host.BaseImage;

    public override KernelBootSpec? KernelBoot => _host.KernelBoot;

    public override InstanceSpec CreateSpec(Guid id, string name) => _host.Spec(id, name) with
    {
        Metadata = new Dictionary<string, string> { ["kit"] = "conformance" },
    };

    public override VolumeSpec CreateVolumeSpec(string volumeId) => _host.Volume(volumeId + "-" + Guid.NewGuid().ToString("N")[..6]) with { VolumeId = volumeId };

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
