using Hypervisors.Fake;
using Hypervisors.Images.Disks;
using Hypervisors.Images.Tests.Support;

namespace Hypervisors.Images.Tests.Disks;

/// <summary>The image-disk decorator around the in-memory fake: references resolved, leases held and released, refusals change nothing.</summary>
public sealed class ImageDisksDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_disk_from_an_allowed_file_is_based_on_the_cached_image_which_the_instance_holds_until_it_is_deleted()
    {
        using var files = new ImageFiles();
        files.Raw("disk.raw", 64 * 1024);
        using var scope = new CacheScope(null, paths: new ImageDirectoryAllowList([files.Directory]));
        await using var driver = new ImageDisksDriver(new FakeHypervisorDriver(), scope.Cache);
        var spec = Spec("disk.raw");

        await driver.CreateInstanceAsync(spec, Ct);

        var entry = Assert.Single(scope.Cache.List());
        Assert.Equal(entry.Path, Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).Disks).ImageRef);
        Assert.Equal([spec.Id], entry.Instances);
        await driver.CreateInstanceAsync(spec, Ct);
        Assert.Equal([spec.Id], Assert.Single(scope.Cache.List()).Instances);
        await driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.Empty(Assert.Single(scope.Cache.List()).Instances);
        Assert.Same(scope.Cache, driver.GetService<Hypervisors.Images.Cache.ImageCache>());
    }

    [Theory]
    [InlineData("ftp://example.org/disk.qcow2", typeof(InvalidSpecException))]
    [InlineData("missing.qcow2", typeof(InvalidImageReferenceException))]
    [InlineData("/etc/passwd", typeof(InvalidImageReferenceException))]
    public async Task A_refused_image_creates_no_instance_and_leaves_no_lease_or_entry(string imageRef, Type error)
    {
        using var files = new ImageFiles();
        files.Raw("disk.raw", 64 * 1024);
        using var scope = new CacheScope(null, paths: new ImageDirectoryAllowList([files.Directory]));
        await using var driver = new ImageDisksDriver(new FakeHypervisorDriver(), scope.Cache);
        var spec = Spec("disk.raw") with { Disks = [new DiskSpec(1, "disk.raw"), new DiskSpec(1, imageRef)] };

        var thrown = await Assert.ThrowsAnyAsync<HypervisorException>(() => driver.CreateInstanceAsync(spec, Ct));

        Assert.IsType(error, thrown);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
        Assert.All(scope.Cache.List(), e => Assert.Empty(e.Instances));
    }

    private static InstanceSpec Spec(string imageRef) => new()
    {
        Id = Guid.NewGuid(),
        Name = "img-" + Guid.NewGuid().ToString("N")[..8],
        VCpus = 1,
        MemoryMiB = 64,
        Disks = [new DiskSpec(1, imageRef)],
    };
}
