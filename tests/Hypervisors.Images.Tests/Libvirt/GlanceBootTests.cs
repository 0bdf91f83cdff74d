using Hypervisors.Images.Cache;
using Hypervisors.Images.Disks;
using Hypervisors.Images.Glance;
using Hypervisors.Images.Tests.Support;
using Hypervisors.Libvirt;
using Hypervisors.Testing;

namespace Hypervisors.Images.Tests.Libvirt;

/// <summary>
/// The Glance boot test: the CI guest's bootable disk (SYSLINUX, the Debian cloud kernel and the marker-printing
/// initramfs, built by .ci/setup/25-glance.sh) uploaded to the CI glance-api, an instance created from
/// <c>glance:&lt;id&gt;</c> on libvirtd with QEMU as a qcow2 overlay on the cached image, booted from that disk (no
/// kernel boot), its marker read from the serial console; a second instance from the same image downloads nothing.
/// </summary>
public sealed class GlanceBootTests
{
    private const string GuestDirectory = "/var/lib/hypervisors-ci/guest";
    private const string Marker = "HYPERVISORS-CI-GUEST-BOOTED";
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_instance_created_from_a_glance_image_boots_from_its_disk_and_a_second_create_downloads_nothing()
    {
        var bootDisk = Path.Combine(GuestDirectory, "boot-disk.qcow2");
        ExternalParts.Require(
            LibvirtDriver.IsLibvirtAvailable() && File.Exists("/var/run/libvirt/libvirt-sock") && File.Exists(bootDisk),
            "libvirtd with QEMU and the bootable CI guest disk (.ci/setup/20-libvirt.sh, 25-glance.sh)");
        await using var glance = await CiGlance.ConnectAsync(Ct);
        var image = await glance.UploadAsync(bootDisk, "qcow2", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);

        // Under /var/lib so QEMU (run by libvirtd) sees the same files; removed at the end.
        var root = Path.Combine("/var/lib/hypervisors-ci", "image-tests", Guid.NewGuid().ToString("N")[..12]);
        var cacheOptions = new ImageCacheOptions { Directory = Path.Combine(root, "cache"), MinimumFreeBytes = 0 };
        using var cache = new ImageCache(cacheOptions, new ImageDirectoryAllowList([]), new GlanceClient(glance.Http, new() { Endpoint = proxy.Address }));
        await using var driver = new ImageDisksDriver(new LibvirtDriver(new LibvirtDriverOptions
        {
            Uri = "qemu:///system",
            DomainType = "qemu",
            MachineType = "pc",
            InstanceDirectory = Path.Combine(root, "instances"),
            ShutdownPollInterval = TimeSpan.FromMilliseconds(250),
        }), cache);
        var first = Spec(image.Id);
        var second = Spec(image.Id);
        try
        {
            await driver.CreateInstanceAsync(first, Ct);
            var entry = Assert.Single(cache.List());
            Assert.Equal($"sha512-{image.OsHashValue}.qcow2", entry.Name);
            var disk = Assert.Single((await driver.GetDevicesAsync(first.Id, Ct)).Disks);
            var overlay = QemuImgTool.ParseInfo(ImageFiles.QemuImg("info", "--output=json", disk.Path!));
            Assert.Equal(("qcow2", entry.Path), (overlay.Format, overlay.BackingFile));

            await driver.StartInstanceAsync(first.Id, Ct);
            await WaitForMarkerAsync(driver, first.Id);

            // The same image again: served from the cache, no request for the image data.
            await driver.CreateInstanceAsync(second, Ct);
            Assert.Equal(1, proxy.FileRequests);
            var secondDisk = Assert.Single((await driver.GetDevicesAsync(second.Id, Ct)).Disks);
            Assert.Equal(entry.Path, QemuImgTool.ParseInfo(ImageFiles.QemuImg("info", "--output=json", secondDisk.Path!)).BackingFile);
            Assert.Equal([first.Id, second.Id], Assert.Single(cache.List()).Instances.Order());

            await driver.PowerOffInstanceAsync(first.Id, Ct);
            await driver.DeleteInstanceAsync(first.Id, Ct);
            await driver.DeleteInstanceAsync(second.Id, Ct);
            Assert.Empty(Assert.Single(cache.List()).Instances);
            Assert.True(cache.Delete(entry.Name));
        }
        finally
        {
            foreach (var id in new[] { first.Id, second.Id })
            {
                try
                {
                    await driver.DeleteInstanceAsync(id, CancellationToken.None);
                }
                catch (InstanceNotFoundException)
                {
                }
            }

            Directory.Delete(root, recursive: true);
        }
    }

    private static InstanceSpec Spec(Guid imageId) => new()
    {
        Id = Guid.NewGuid(),
        Name = "glance-boot-" + Guid.NewGuid().ToString("N")[..8],
        VCpus = 1,
        MemoryMiB = 256,
        Disks = [new DiskSpec(1, "glance:" + imageId)],
        Metadata = new Dictionary<string, string> { ["test"] = nameof(GlanceBootTests) },
    };

    private static async Task WaitForMarkerAsync(IHypervisorDriver driver, Guid id)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(BootTimeout);
        var text = string.Empty;
        try
        {
            while (!text.Contains(Marker, StringComparison.Ordinal))
            {
                await Task.Delay(500, timeout.Token);
                text = (await driver.GetConsoleOutputAsync(id, timeout.Token)).Text;
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"No boot marker within {BootTimeout}. Console tail:\n{text[Math.Max(0, text.Length - 2000)..]}");
        }
    }
}
