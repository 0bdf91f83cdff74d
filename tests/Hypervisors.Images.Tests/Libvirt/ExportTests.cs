using Hypervisors.Images.Cache;
using Hypervisors.Images.Ovf;
using Hypervisors.Images.Tests.Support;

namespace Hypervisors.Images.Tests.Libvirt;

/// <summary>A stopped libvirt instance exported to an OVA that imports back to an equal spec, and exported to Glance as a snapshot image.</summary>
[Collection(LibvirtdImagesCollection.Name)]
public sealed class ExportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Export_to_ova_then_import_gives_an_equal_spec_and_export_to_glance_gives_an_active_image()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        await using var host = new CiLibvirt(glance.Client);
        var image = await glance.UploadAsync(CiLibvirt.BootDisk, "qcow2", Ct);
        var spec = new InstanceSpec
        {
            Id = Guid.NewGuid(),
            Name = "export-" + Guid.NewGuid().ToString("N")[..8],
            VCpus = 2,
            MemoryMiB = 320,
            Disks = [new DiskSpec(1, "glance:" + image.Id)],
            NetworkInterfaces = [new NetworkInterfaceSpec("default", "52:54:00:c1:00:99")],
        };
        await host.CreateAsync(spec, Ct);
        var exporter = new InstanceExporter(new QemuImgTool());

        var ova = Path.Combine(host.Root, "export.ova");
        await using (var output = File.Create(ova))
        {
            await exporter.ExportOvaAsync(host.Driver, spec.Id, output, Ct);
        }

        var allowed = new ImageDirectoryAllowList([host.Root]);
        using var importCache = new ImageCache(new ImageCacheOptions { Directory = Path.Combine(host.Root, "import-cache"), MinimumFreeBytes = 0 }, allowed);
        var imported = Assert.Single(await new OvfImporter(importCache).PrepareAsync(
            new OvfImportRequest { Package = ova, NetworkMapping = new Dictionary<string, string> { ["default"] = "default" } }, Ct));

        Assert.Equal((spec.Name, spec.VCpus, spec.MemoryMiB), (imported.Name, imported.VCpus, imported.MemoryMiB));
        Assert.Equal(spec.Disks.Select(d => d.SizeGiB), imported.Disks.Select(d => d.SizeGiB));
        Assert.Equal(spec.NetworkInterfaces, imported.NetworkInterfaces);
        var disk = QemuImgTool.ParseInfo(ImageFiles.QemuImg("info", "--output=json", Assert.Single(imported.Disks).ImageRef!));
        Assert.Equal(("qcow2", (string?)null, 1L << 30), (disk.Format, disk.BackingFile, disk.VirtualSize));

        var snapshot = await exporter.ExportToGlanceAsync(host.Driver, spec.Id, glance.Client, spec.Name + "-snapshot", Ct);
        try
        {
            Assert.True(snapshot.IsActive, snapshot.Status);
            Assert.Equal(("qcow2", "sha512"), (snapshot.DiskFormat, snapshot.OsHashAlgo));
        }
        finally
        {
            await glance.Client.DeleteImageAsync(snapshot.Id, CancellationToken.None);
        }

        // Only a stopped instance is exported (the CI host has no libvirt network, so the interface goes first).
        await host.Driver.DetachInterfaceAsync(spec.Id, "52:54:00:c1:00:99", Ct);
        await host.Driver.StartInstanceAsync(spec.Id, Ct);
        await Assert.ThrowsAsync<InvalidPowerStateException>(() => exporter.ExportOvaAsync(host.Driver, spec.Id, Stream.Null, Ct));
    }
}
