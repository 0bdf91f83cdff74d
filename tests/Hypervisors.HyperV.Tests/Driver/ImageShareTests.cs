using System.Security.Cryptography;
using Hypervisors.Images;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Disks;
using Hypervisors.Testing;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// Disks from images of this machine on Hyper-V: the image (converted to VHDX by the image cache) is copied once into
/// the image share, which the simulated host reaches as <c>\\fileserver\images</c>, under its SHA-256; each instance
/// gets a differencing disk on it through <c>CreateVirtualHardDisk</c>. Refusals leave no VM and no disk.
/// </summary>
public sealed class ImageShareTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("hv-hyperv-share-test-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Images => Path.Combine(_root.FullName, "images");

    private string Share => Path.Combine(_root.FullName, "share");

    public ImageShareTests()
    {
        Directory.CreateDirectory(Images);
        Directory.CreateDirectory(Share);
    }

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task A_cached_image_is_converted_to_vhdx_placed_in_the_share_once_and_each_instance_gets_a_differencing_disk_on_it()
    {
        ExternalParts.Require(File.Exists("/usr/bin/qemu-img"), "qemu-img (Debian package qemu-utils)");
        var raw = Path.Combine(Images, "base.raw");
        var bytes = new byte[1 << 20];
        Random.Shared.NextBytes(bytes);
        await File.WriteAllBytesAsync(raw, bytes, Ct);
        await using var server = await HyperVFixture.StartWithShareAsync(Share, Ct);
        using var cache = new ImageCache(new ImageCacheOptions { Directory = Path.Combine(_root.FullName, "cache"), MinimumFreeBytes = 0 },
            new ImageDirectoryAllowList([Images]));

        // The driver allows no directory of its own: the cache's verified entries are what it accepts, through its
        // policy for disk images of this machine. It offers no unkeyed policy: its host paths and volumes are Hyper-V's.
        var options = HyperVFixture.OptionsFor(server);
        options.ImageShare = new HyperVImageShareOptions { LocalDirectory = Share, HostPath = HyperVFixture.ShareHostPath };
        var hyperV = new HyperVDriver(options);
        Assert.Null(hyperV.GetService<HostPathPolicy>());
        await using var driver = new ImageDisksDriver(hyperV, cache, "vhdx");
        var imagePolicy = Assert.IsType<HostPathPolicy>(hyperV.GetService(typeof(HostPathPolicy), HostPathPolicy.DiskImagesKey));
        Assert.Equal([cache], imagePolicy.VerifiedImageStores);
        var first = Spec(raw);
        var second = Spec(raw);

        await driver.CreateInstanceAsync(first, Ct);
        var placed = Assert.Single(Directory.GetFiles(Share));
        var placedAt = File.GetLastWriteTimeUtc(placed);
        await driver.CreateInstanceAsync(second, Ct);

        Assert.Equal([placed], Directory.GetFiles(Share));
        Assert.Equal(placedAt, File.GetLastWriteTimeUtc(placed));
        var content = await File.ReadAllBytesAsync(placed, Ct);
        Assert.Equal("vhdxfile"u8.ToArray(), content[..8]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)) + ".vhdx", Path.GetFileName(placed));
        var entry = Assert.Single(cache.List());
        Assert.Equal("vhdx", entry.Format);
        Assert.Equal(content, await File.ReadAllBytesAsync(entry.Path, Ct));
        foreach (var spec in new[] { first, second })
        {
            var disk = Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).Disks);
            Assert.Equal(entry.Path, disk.ImageRef);
            Assert.True(server.Host.FileExists(disk.Path!), $"the differencing disk {disk.Path} exists on the host");
        }

        // The parent stays in the share for the next instance; the instance's own disk goes with it.
        var firstDisk = Assert.Single((await driver.GetDevicesAsync(first.Id, Ct)).Disks).Path!;
        await driver.DeleteInstanceAsync(first.Id, Ct);
        Assert.False(server.Host.FileExists(firstDisk));
        Assert.True(server.Host.FileExists(HyperVFixture.ShareHostPath + "\\" + Path.GetFileName(placed)));
    }

    [Fact]
    public async Task Parallel_creates_from_one_file_copy_it_into_the_share_once()
    {
        var image = await WriteVhdxAsync("parallel.vhdx");
        await using var server = await HyperVFixture.StartWithShareAsync(Share, Ct);
        await using var driver = new HyperVDriver(HyperVFixture.OptionsWithImageShare(server, Share, Images));
        var specs = Enumerable.Range(0, 6).Select(_ => Spec(image)).ToList();

        await Task.WhenAll(specs.Select(s => driver.CreateInstanceAsync(s, Ct)));

        var placed = Assert.Single(Directory.GetFiles(Share));
        Assert.Equal(await File.ReadAllBytesAsync(image, Ct), await File.ReadAllBytesAsync(placed, Ct));
        Assert.Equal(6, server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task A_create_on_a_placed_image_sends_no_check_first_and_one_on_a_host_path_image_sends_one_get()
    {
        var image = await WriteVhdxAsync("counted.vhdx");
        await using var server = await HyperVFixture.StartWithShareAsync(Share, Ct);
        server.Host.Behavior.JobDuration = TimeSpan.Zero;
        await using var driver = new HyperVDriver(HyperVFixture.OptionsWithImageShare(server, Share, Images));
        await driver.CreateInstanceAsync(Spec(image), Ct); // Warm: index, services, and the image placed.

        // DefineSystem, the sizing read and ModifyResourceSettings (as without disks), the differencing disk, then the
        // SCSI controller, the drive and the disk: 7 calls, each job polled once. Hyper-V's 32779 answers a missing parent.
        var expected = new Dictionary<string, int>
        {
            ["Enumerate"] = 1, ["DefineSystem"] = 1, ["ModifyResourceSettings"] = 1, ["CreateVirtualHardDisk"] = 1, ["AddResourceSettings"] = 3, ["Get"] = 6,
        };
        server.Host.Behavior.ResetRequestCounts();
        await driver.CreateInstanceAsync(Spec(image), Ct);
        Assert.Equal(expected.OrderBy(p => p.Key), server.Host.Behavior.RequestCounts.OrderBy(p => p.Key));

        // An image on the Hyper-V host is checked first (CIM_DataFile), so a missing one costs no VM.
        expected["Get"]++;
        server.Host.Behavior.ResetRequestCounts();
        await driver.CreateInstanceAsync(Spec(@"C:\Images\base.vhdx"), Ct);
        Assert.Equal(expected.OrderBy(p => p.Key), server.Host.Behavior.RequestCounts.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task A_parent_hyperv_cannot_open_refuses_the_create_and_leaves_no_vm_and_no_disk()
    {
        var image = await WriteVhdxAsync("unreachable.vhdx");
        await using var server = await HyperVFixture.StartWithShareAsync(Share, Ct);
        var options = HyperVFixture.OptionsWithImageShare(server, Share, Images);
        options.ImageShare!.HostPath = @"\\otherserver\images"; // A share the host does not reach.
        await using var driver = new HyperVDriver(options);
        var spec = Spec(image);

        var refusal = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec, Ct));

        Assert.Equal("spec.Disks[0].ImageRef", refusal.Field);
        Assert.Contains("rv:32779", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.Host.VirtualMachineCount);
        Assert.False(server.Host.FileExists(options.DiskDirectory + "\\" + spec.Name + "-" + spec.Id.ToString("N")[..8] + "\\disk0.vhdx"));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.GetInstanceAsync(spec.Id, Ct));
    }

    [Fact]
    public async Task Files_that_are_not_vhdx_or_not_allowed_are_refused_before_anything_is_made()
    {
        var notVhdx = Path.Combine(Images, "disk.raw");
        await File.WriteAllBytesAsync(notVhdx, new byte[4096], Ct);
        var outside = Path.Combine(_root.FullName, "outside.vhdx");
        File.Copy(await WriteVhdxAsync("inside.vhdx"), outside);
        await using var server = await HyperVFixture.StartWithShareAsync(Share, Ct);
        await using var driver = new HyperVDriver(HyperVFixture.OptionsWithImageShare(server, Share, Images));
        server.Host.Behavior.ResetRequestCounts();

        foreach (var (reference, message) in new[]
        {
            (notVhdx, "must be a VHDX image"),
            (outside, "AllowedHostDirectories"),
            ("/etc/passwd", "AllowedHostDirectories"),
            ("images/inside.vhdx", "AllowedHostDirectories"),
            (Path.Combine(Images, "missing.vhdx"), "does not exist"),
        })
        {
            var refusal = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(Spec(reference), Ct));
            Assert.Equal("spec.Disks[0].ImageRef", refusal.Field);
            Assert.Contains(message, refusal.Message, StringComparison.Ordinal);
        }

        Assert.Empty(Directory.GetFiles(Share));
        Assert.Equal(0, server.Host.VirtualMachineCount);
        Assert.DoesNotContain("DefineSystem", server.Host.Behavior.RequestCounts.Keys);
    }

    [Fact]
    public void The_image_share_options_are_validated_at_start()
    {
        var options = new HyperVDriverOptions
        {
            Host = "hv1.example.net",
            UserName = "u",
            Password = "p",
            ImageShare = new HyperVImageShareOptions { LocalDirectory = "share", HostPath = "images" },
        };
        options.AllowedHostDirectories.Add("relative");
        Assert.Equal(
        [
            "Hyper-V:hv1:ImageShare:LocalDirectory: must be an absolute path, was 'share'.",
            @"Hyper-V:hv1:ImageShare:HostPath: must be a UNC path (\\server\share) or a path with a drive letter (D:\Images), was 'images'.",
            "Hyper-V:hv1:AllowedHostDirectories:0: 'relative' is not an absolute path.",
        ], options.Validate("Hyper-V:hv1"));

        options.ImageShare = new HyperVImageShareOptions { LocalDirectory = Path.Combine(_root.FullName, "missing"), HostPath = @"\\fs\images\..\secret" };
        options.AllowedHostDirectories.Clear();
        Assert.Equal(
        [
            $"Hyper-V:hv1:ImageShare:LocalDirectory: the directory '{Path.Combine(_root.FullName, "missing")}' does not exist.",
            @"Hyper-V:hv1:ImageShare:HostPath: must be a UNC path (\\server\share) or a path with a drive letter (D:\Images), was '\\fs\images\..\secret'.",
        ], options.Validate("Hyper-V:hv1"));

        options.ImageShare = null;
        options.AllowedHostDirectories.Add(Images);
        Assert.Equal(["Hyper-V:hv1:AllowedHostDirectories: images of this machine need ImageShare, where they are copied for Hyper-V to open."],
            options.Validate("Hyper-V:hv1"));

        options.ImageShare = new HyperVImageShareOptions { LocalDirectory = Share, HostPath = @"D:\Images" };
        Assert.Empty(options.Validate("Hyper-V:hv1"));
    }

    /// <summary>A file that starts with VHDX's file type identifier, as much of a VHDX as the driver and the simulator read.</summary>
    private async Task<string> WriteVhdxAsync(string name)
    {
        var path = Path.Combine(Images, name);
        var content = new byte[256 * 1024];
        Random.Shared.NextBytes(content);
        "vhdxfile"u8.CopyTo(content);
        await File.WriteAllBytesAsync(path, content, Ct);
        return path;
    }

    private static InstanceSpec Spec(string image)
    {
        var id = Guid.NewGuid();
        return new InstanceSpec { Id = id, Name = "img-" + id.ToString("N")[..8], VCpus = 1, MemoryMiB = 64, Disks = [new DiskSpec(1, image)] };
    }
}
