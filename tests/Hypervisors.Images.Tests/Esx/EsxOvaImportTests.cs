using System.Text;
using Hypervisors.Esx;
using Hypervisors.Esx.Tests.Vcsim;
using Hypervisors.Images.Ovf;
using Hypervisors.Images.Tests.Ovf;
using Hypervisors.Images.Tests.Support;
using Hypervisors.Testing;

namespace Hypervisors.Images.Tests.Esx;

/// <summary>
/// The OVA built from the CI guest's disk (a streamOptimized VMDK, a DSP0243 descriptor and a SHA256 manifest), read
/// with <see cref="OvaReader"/> (entries and manifest checked) and imported on vcsim through vSphere's own import.
/// </summary>
public sealed class EsxOvaImportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_ova_of_the_ci_guest_imports_on_vcsim_with_its_descriptors_hardware()
    {
        ExternalParts.Require(File.Exists(CiLibvirt.BootDisk), $"the CI guest's disk {CiLibvirt.BootDisk} (.ci/setup)");
        await using var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        await using var driver = new EsxDriver(server.CreateOptions());
        using var files = new ImageFiles();
        var vmdk = files.PathOf("ci-guest-disk1.vmdk");
        ImageFiles.QemuImg("convert", "-q", "-f", "qcow2", "-O", "vmdk", "-o", "subformat=streamOptimized", CiLibvirt.BootDisk, vmdk);
        var disk = await File.ReadAllBytesAsync(vmdk, Ct);
        var descriptor = OvfSamples.Single("ci-guest", "ci-guest-disk1.vmdk", disk.Length, 64L << 20, vsphere: true);
        var ova = await OvfSamples.OvaAsync([("ci-guest.ovf", Encoding.UTF8.GetBytes(descriptor)), ("ci-guest-disk1.vmdk", disk)]);
        using var stream = new MemoryStream(ova);
        var package = await OvaReader.ExtractAsync(stream, files.PathOf("unpacked"), cancellationToken: Ct);
        var sent = new List<(string Href, long Bytes)>();
        var id = Guid.NewGuid();
        var spec = new InstanceSpec { Id = id, Name = "ova-" + id.ToString("N")[..8], VCpus = 1, MemoryMiB = 64, Disks = [new DiskSpec(1)] };
        var import = new EsxOvfImport(spec, await File.ReadAllTextAsync(Path.Combine(package.Directory, package.DescriptorName), Ct), (href, _) =>
        {
            var path = package.PathOfFile(package.Envelope.Files.Single(r => r.Href == href).Id);
            sent.Add((href, new FileInfo(path).Length));
            return Task.FromResult<Stream>(File.OpenRead(path));
        });

        var created = await driver.ImportOvfAsync(import, Ct);

        Assert.Equal([("ci-guest-disk1.vmdk", (long)disk.Length)], sent);
        Assert.Equal((1, 256L, PowerState.Shutdown), (created.VCpus, created.MemoryMiB, created.PowerState));
        var read = await driver.GetInstanceAsync(id, Ct);
        Assert.Equal((spec.Name, 1, 256L), (read.Name, read.VCpus, read.MemoryMiB));
        Assert.Single((await driver.GetDevicesAsync(id, Ct)).Disks);
        await driver.DeleteInstanceAsync(id, Ct);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
    }
}
