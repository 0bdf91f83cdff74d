using Hypervisors.Esx.Tests.Vcsim;

namespace Hypervisors.Esx.Tests.Images;

/// <summary>Disks from raw images of this host on vcsim: uploaded to the datastore once, copied per instance.</summary>
public sealed class EsxImageDiskTests : IDisposable
{
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hv-esx-images-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _images.Delete(recursive: true);

    [Fact]
    public async Task A_raw_image_is_uploaded_once_and_each_instance_gets_its_own_copy()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        var options = server.CreateOptions();
        options.AllowedHostDirectories.Add(_images.FullName);
        await using var driver = new EsxDriver(options);
        var image = Path.Combine(_images.FullName, "base.raw");
        var bytes = new byte[256 * 1024];
        Random.Shared.NextBytes(bytes);
        await File.WriteAllBytesAsync(image, bytes, Ct);
        var first = Spec(image);
        var second = Spec(image);

        await driver.CreateInstanceAsync(first, Ct);
        var uploaded = Directory.GetFiles(Path.Combine(server.DatastoreDirectory, "hypervisors-images"));
        var extent = Assert.Single(uploaded, f => f.EndsWith("-flat.vmdk", StringComparison.Ordinal));
        var uploadedAt = File.GetLastWriteTimeUtc(extent);
        await driver.CreateInstanceAsync(second, Ct);

        Assert.Equal(2, uploaded.Length);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(extent, Ct));
        Assert.Contains("RW 512 VMFS \"" + Path.GetFileName(extent) + "\"", await File.ReadAllTextAsync(extent.Replace("-flat.vmdk", ".vmdk", StringComparison.Ordinal), Ct), StringComparison.Ordinal);
        Assert.Equal(uploaded.Order(), Directory.GetFiles(Path.Combine(server.DatastoreDirectory, "hypervisors-images")).Order());
        Assert.Equal(uploadedAt, File.GetLastWriteTimeUtc(extent));
        foreach (var spec in new[] { first, second })
        {
            var disk = Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).Disks);
            Assert.Equal(image, disk.ImageRef);
            Assert.Equal($"[{server.Datastore}] hypervisors-disks/{spec.Id:N}-0.vmdk", disk.Path);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(server.DatastoreDirectory, "hypervisors-disks", $"{spec.Id:N}-0-flat.vmdk"), Ct));
        }
    }

    [Fact]
    public async Task Image_references_outside_the_allow_list_or_not_raw_are_refused_and_create_nothing()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        var options = server.CreateOptions();
        options.AllowedHostDirectories.Add(_images.FullName);
        await using var driver = new EsxDriver(options);
        var odd = Path.Combine(_images.FullName, "odd.raw");
        await File.WriteAllBytesAsync(odd, new byte[1000], Ct);
        var outside = Path.Combine(Path.GetTempPath(), "hv-esx-outside-" + Guid.NewGuid().ToString("N") + ".raw");
        await File.WriteAllBytesAsync(outside, new byte[4096], Ct);
        try
        {
            foreach (var reference in new[] { outside, "/etc/passwd", "kit-base-image", odd, Path.Combine(_images.FullName, "missing.raw") })
            {
                var refusal = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(Spec(reference), Ct));
                Assert.Equal("spec.Disks[0].ImageRef", refusal.Field);
            }

            Assert.Empty(await driver.ListInstancesAsync(Ct));
            Assert.False(Directory.Exists(Path.Combine(server.DatastoreDirectory, "hypervisors-images")));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    private static InstanceSpec Spec(string image)
    {
        var id = Guid.NewGuid();
        return new InstanceSpec { Id = id, Name = "img-" + id.ToString("N")[..8], VCpus = 1, MemoryMiB = 64, Disks = [new DiskSpec(1, image)] };
    }
}
