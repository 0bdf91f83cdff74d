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

    [Fact]
    public async Task The_inner_driver_accepts_the_caches_verified_entries_and_still_refuses_other_host_paths_outside_its_allow_list()
    {
        using var files = new ImageFiles();
        files.Raw("disk.raw", 64 * 1024);
        var qcow2 = files.Qcow2("in-place.qcow2", 64 * 1024);
        using var scope = new CacheScope(null, paths: new ImageDirectoryAllowList([files.Directory]));
        var inner = new FakeHypervisorDriver(new FakeHypervisorOptions { AllowedHostDirectories = { "/var/lib/hypervisors-kit" } });
        await using var driver = new ImageDisksDriver(inner, scope.Cache);
        await driver.CreateInstanceAsync(Spec("disk.raw"), Ct);
        var entry = Assert.Single(scope.Cache.List());
        var temporary = Path.Combine(scope.Root, "tmp", Path.GetFileName(entry.Path));
        File.Copy(entry.Path, temporary);
        var outside = Path.Combine(scope.Root, "outside.qcow2");
        File.Copy(qcow2, outside);
        var leases = Directory.EnumerateFiles(Path.Combine(scope.Root, "leases"), "*", SearchOption.AllDirectories).First();

        // The decorator hands the cache's entry (and a host file of the image allow-list used in place) to the inner driver.
        var direct = await inner.CreateInstanceAsync(Spec(entry.Path), Ct);
        var inPlace = await driver.CreateInstanceAsync(Spec("in-place.qcow2"), Ct);
        Assert.Equal(qcow2, Assert.Single((await driver.GetDevicesAsync(inPlace.Id, Ct)).Disks).ImageRef);

        // Anything else outside the inner driver's allow-list is refused there, by the decorator's path and directly.
        foreach (var refused in new[] { temporary, entry.Path + ".json", leases, outside, "/etc/passwd" })
        {
            var refusal = await Assert.ThrowsAsync<InvalidSpecException>(() => inner.CreateInstanceAsync(Spec(refused), Ct));
            Assert.Equal("spec.Disks[0].ImageRef", refusal.Field);
            Assert.Equal(HostPathPolicy.Refusal("spec.Disks[0].ImageRef").Message, refusal.Message);
        }

        await Assert.ThrowsAnyAsync<HypervisorException>(() => driver.CreateInstanceAsync(Spec(temporary), Ct));
        await Assert.ThrowsAnyAsync<HypervisorException>(() => driver.CreateInstanceAsync(Spec("/etc/passwd"), Ct));
        await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(Spec("disk.raw") with
        {
            KernelBoot = new KernelBootSpec(entry.Path),
        }, Ct));
        Assert.Equal(3, (await driver.ListInstancesAsync(Ct)).Count);
        Assert.Contains(direct.Id, (await inner.ListInstancesAsync(Ct)).Select(i => i.Id));
    }

    [Fact]
    public async Task Around_a_driver_without_image_disks_a_create_from_an_image_throws_not_supported_and_fetches_nothing()
    {
        using var files = new ImageFiles();
        files.Raw("disk.raw", 64 * 1024);
        using var scope = new CacheScope(null, paths: new ImageDirectoryAllowList([files.Directory]));
        await using var driver = new ImageDisksDriver(new WithoutImageDisks(new FakeHypervisorDriver()), scope.Cache);

        var refusal = await Assert.ThrowsAsync<OperationNotSupportedException>(() => driver.CreateInstanceAsync(Spec("disk.raw"), Ct));

        Assert.Equal(InstanceOperation.Create, refusal.Operation);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
        Assert.Empty(scope.Cache.List());
        Assert.Equal(0, scope.Metric("misses"));
        Assert.Empty(scope.AllFiles());
        var blank = await driver.CreateInstanceAsync(Spec("disk.raw") with { Disks = [new DiskSpec(1)] }, Ct);
        Assert.Null(Assert.Single((await driver.GetDevicesAsync(blank.Id, Ct)).Disks).ImageRef);
    }

    private static InstanceSpec Spec(string imageRef) => new()
    {
        Id = Guid.NewGuid(),
        Name = "img-" + Guid.NewGuid().ToString("N")[..8],
        VCpus = 1,
        MemoryMiB = 64,
        Disks = [new DiskSpec(1, imageRef)],
    };

    /// <summary>A driver that declares no image disks.</summary>
    private sealed class WithoutImageDisks(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
    {
        public override DriverCapabilities Capabilities => InnerDriver.Capabilities with { SupportsImageDisks = false };
    }
}
