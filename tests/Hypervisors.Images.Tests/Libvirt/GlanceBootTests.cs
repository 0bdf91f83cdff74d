using Hypervisors.Images.Cache;
using Hypervisors.Images.Glance;
using Hypervisors.Images.Tests.Support;

namespace Hypervisors.Images.Tests.Libvirt;

/// <summary>
/// The Glance boot test: the CI guest's bootable disk (SYSLINUX, the Debian cloud kernel and the marker-printing
/// initramfs, built by .ci/setup/25-glance.sh) uploaded to the CI glance-api, an instance created from
/// <c>glance:&lt;id&gt;</c> on libvirtd with QEMU as a qcow2 overlay on the cached image, booted from that disk (no
/// kernel boot), its marker read from the serial console; a second instance from the same image downloads nothing.
/// </summary>
[Collection(LibvirtdImagesCollection.Name)]
public sealed class GlanceBootTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_instance_created_from_a_glance_image_boots_from_its_disk_and_a_second_create_downloads_nothing()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        await using var host = new CiLibvirt(new GlanceClient(glance.Http, new() { Endpoint = proxy.Address }));
        var image = await glance.UploadAsync(CiLibvirt.BootDisk, "qcow2", Ct);
        var first = Spec(image.Id);
        var second = Spec(image.Id);

        await host.CreateAsync(first, Ct);
        var entry = Assert.Single(host.Cache.List());
        Assert.Equal($"sha512-{image.OsHashValue}.qcow2", entry.Name);
        var disk = Assert.Single((await host.Driver.GetDevicesAsync(first.Id, Ct)).Disks);
        var overlay = QemuImgTool.ParseInfo(ImageFiles.QemuImg("info", "--output=json", disk.Path!));
        Assert.Equal(("qcow2", entry.Path), (overlay.Format, overlay.BackingFile));

        await host.BootAndWaitForMarkerAsync(first.Id, Ct);

        // The same image again: served from the cache, no request for the image data.
        await host.CreateAsync(second, Ct);
        Assert.Equal(1, proxy.FileRequests);
        var secondDisk = Assert.Single((await host.Driver.GetDevicesAsync(second.Id, Ct)).Disks);
        Assert.Equal(entry.Path, QemuImgTool.ParseInfo(ImageFiles.QemuImg("info", "--output=json", secondDisk.Path!)).BackingFile);
        Assert.Equal(new[] { first.Id, second.Id }.Order(), Assert.Single(host.Cache.List()).Instances.Order());

        await host.Driver.PowerOffInstanceAsync(first.Id, Ct);
        await host.Driver.DeleteInstanceAsync(first.Id, Ct);
        await host.Driver.DeleteInstanceAsync(second.Id, Ct);
        Assert.Empty(Assert.Single(host.Cache.List()).Instances);
        Assert.True(host.Cache.Delete(entry.Name));
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
}
