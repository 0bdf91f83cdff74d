using Hypervisors.Images.Cache;
using Hypervisors.Images.Disks;
using Hypervisors.Libvirt;
using Hypervisors.Testing;

namespace Hypervisors.Images.Tests.Support;

/// <summary>
/// libvirtd with QEMU (.ci/setup/20-libvirt.sh) and the bootable CI guest disk (25-glance.sh): an image cache and an
/// instance folder under /var/lib (where QEMU, run by libvirtd, sees them), removed with this scope.
/// </summary>
internal sealed class CiLibvirt : IAsyncDisposable
{
    public const string Marker = "HYPERVISORS-CI-GUEST-BOOTED";
    public const string BootDisk = "/var/lib/hypervisors-ci/guest/boot-disk.qcow2";
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(4);
    private readonly List<Guid> _instances = [];

    public CiLibvirt(Hypervisors.Images.Glance.GlanceClient? glance)
    {
        ExternalParts.Require(
            LibvirtDriver.IsLibvirtAvailable() && File.Exists("/var/run/libvirt/libvirt-sock") && File.Exists(BootDisk),
            "libvirtd with QEMU and the bootable CI guest disk (.ci/setup/20-libvirt.sh, 25-glance.sh)");
        Root = Path.Combine("/var/lib/hypervisors-ci", "image-tests", Guid.NewGuid().ToString("N")[..12]);
        Cache = new ImageCache(new ImageCacheOptions { Directory = Path.Combine(Root, "cache"), MinimumFreeBytes = 0 }, new ImageDirectoryAllowList([]), glance);
        Driver = new ImageDisksDriver(new LibvirtDriver(new LibvirtDriverOptions
        {
            Uri = "qemu:///system",
            DomainType = "qemu",
            MachineType = "pc",
            InstanceDirectory = Path.Combine(Root, "instances"),
            ShutdownPollInterval = TimeSpan.FromMilliseconds(250),
        }), Cache);
    }

    public string Root { get; }

    public ImageCache Cache { get; }

    public ImageDisksDriver Driver { get; }

    /// <summary>Creates the instance, remembering it for clean-up.</summary>
    public Task<InstanceInfo> CreateAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        _instances.Add(spec.Id);
        return Driver.CreateInstanceAsync(spec, cancellationToken);
    }

    /// <summary>Starts the instance and waits for the guest's marker on its serial console.</summary>
    public async Task BootAndWaitForMarkerAsync(Guid id, CancellationToken cancellationToken)
    {
        await Driver.StartInstanceAsync(id, cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(BootTimeout);
        var text = string.Empty;
        try
        {
            while (!text.Contains(Marker, StringComparison.Ordinal))
            {
                await Task.Delay(500, timeout.Token);
                text = (await Driver.GetConsoleOutputAsync(id, timeout.Token)).Text;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"No boot marker within {BootTimeout}. Console tail:\n{text[Math.Max(0, text.Length - 2000)..]}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _instances)
        {
            try
            {
                await Driver.DeleteInstanceAsync(id, CancellationToken.None);
            }
            catch (InstanceNotFoundException)
            {
            }
        }

        await Driver.DisposeAsync();
        Cache.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>The tests that boot guests on the shared libvirtd run one at a time (a 2-core CI host emulates each guest in software).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LibvirtdImagesCollection
{
    public const string Name = "libvirtd-images";
}
