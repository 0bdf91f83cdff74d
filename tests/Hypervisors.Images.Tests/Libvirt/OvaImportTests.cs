using System.Text;
using Hypervisors.Images.Glance;
using Hypervisors.Images.Ovf;
using Hypervisors.Images.Tests.Ovf;
using Hypervisors.Images.Tests.Support;

namespace Hypervisors.Images.Tests.Libvirt;

/// <summary>
/// An OVA built here from the CI guest's disk (converted to a streamOptimized VMDK, with a descriptor written from
/// DSP0243 and a SHA256 manifest), uploaded to Glance as container_format ova, imported from <c>glance:&lt;id&gt;</c>
/// and booted on libvirtd with QEMU.
/// </summary>
[Collection(LibvirtdImagesCollection.Name)]
public sealed class OvaImportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_ova_of_the_ci_guest_imports_from_glance_and_boots_on_libvirt()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        await using var host = new CiLibvirt(glance.Client);
        using var files = new ImageFiles();
        var vmdk = files.PathOf("ci-guest-disk1.vmdk");
        ImageFiles.QemuImg("convert", "-q", "-f", "qcow2", "-O", "vmdk", "-o", "subformat=streamOptimized", CiLibvirt.BootDisk, vmdk);
        var disk = await File.ReadAllBytesAsync(vmdk, Ct);
        var descriptor = Encoding.UTF8.GetBytes(OvfSamples.Single("ci-guest", "ci-guest-disk1.vmdk", disk.Length, 64L << 20));
        var ovaPath = files.PathOf("ci-guest.ova");
        await File.WriteAllBytesAsync(ovaPath, await OvfSamples.OvaAsync([("ci-guest.ovf", descriptor), ("ci-guest-disk1.vmdk", disk)]), Ct);
        var package = await glance.UploadAsync(ovaPath, "vmdk", Ct, containerFormat: "ova");

        var importer = new OvfImporter(host.Cache);
        var spec = Assert.Single(await importer.PrepareAsync(new OvfImportRequest { Package = "glance:" + package.Id, NamePrefix = "ova-" + Guid.NewGuid().ToString("N")[..6] + "-" }, Ct));
        Assert.Equal((1, 256L), (spec.VCpus, spec.MemoryMiB));
        Assert.Equal("ci-guest", spec.Metadata["ovf:system"]);
        var imported = Assert.Single(host.Cache.List());
        Assert.Equal(imported.Path, Assert.Single(spec.Disks).ImageRef);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(host.Root, "cache", "tmp")));

        await host.CreateAsync(spec, Ct);
        Assert.Equal([spec.Id], Assert.Single(host.Cache.List()).Instances);
        await host.BootAndWaitForMarkerAsync(spec.Id, Ct);
        await host.Driver.PowerOffInstanceAsync(spec.Id, Ct);
        await host.Driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.Empty(Assert.Single(host.Cache.List()).Instances);
    }

    [Fact]
    public async Task A_package_that_is_not_an_ova_container_is_refused_and_leaves_nothing()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Raw("disk.raw", 4096), "raw", Ct);
        using var scope = new CacheScope(glance.Client);
        await Assert.ThrowsAsync<InvalidImageReferenceException>(() => new OvfImporter(scope.Cache).PrepareAsync(new OvfImportRequest { Package = "glance:" + image.Id }, Ct));
        Assert.Empty(scope.AllFiles());
    }
}
