using System.Security.Cryptography;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Hypervisors.Images.Tests.Cache;

/// <summary>The host image cache against the real glance-api and qemu-img.</summary>
public sealed class ImageCacheTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Concurrent_requests_download_an_image_once_and_later_requests_are_hits()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Qcow2("disk.qcow2", 2 * 1024 * 1024), "qcow2", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        using var scope = new CacheScope(new Hypervisors.Images.Glance.GlanceClient(glance.Http, new() { Endpoint = proxy.Address }));
        var reference = ImageReference.Parse("glance:" + image.Id);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => scope.Cache.AcquireAsync(reference, "qcow2", Guid.NewGuid(), Ct)));
        var again = await scope.Cache.AcquireAsync(reference, "qcow2", Guid.NewGuid(), Ct);

        Assert.Equal(1, proxy.FileRequests);
        Assert.Single(results, r => r.Downloaded);
        Assert.False(again.Downloaded);
        Assert.Single(results.Select(r => r.Path).Append(again.Path).Distinct());
        Assert.Equal(1, scope.Metric("misses"));
        Assert.Equal(8, scope.Metric("hits"));
        Assert.Equal(image.Size, scope.Metric("downloaded"));
        var entry = Assert.Single(scope.Cache.List());
        Assert.Equal($"sha512-{image.OsHashValue}.qcow2", entry.Name);
        Assert.Equal(9, entry.Instances.Count);
        Assert.Equal("qcow2", ImageFilesInfo(entry.Path).Format);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(scope.Root, "tmp")));
    }

    [Fact]
    public async Task Glances_answer_for_an_active_image_is_reused_for_a_short_time_and_asked_again_after_it()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Qcow2("disk.qcow2", 512 * 1024), "qcow2", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var scope = new CacheScope(new Hypervisors.Images.Glance.GlanceClient(glance.Http, new() { Endpoint = proxy.Address }), time: time,
            configure: o => o.GlanceMetadataReuse = TimeSpan.FromSeconds(30));
        var reference = ImageReference.Parse("glance:" + image.Id);

        await scope.Cache.AcquireAsync(reference, "qcow2", Guid.NewGuid(), Ct);
        time.Advance(TimeSpan.FromSeconds(29));
        await scope.Cache.AcquireAsync(reference, "qcow2", Guid.NewGuid(), Ct);
        Assert.Equal(1, proxy.ShowRequests);
        time.Advance(TimeSpan.FromSeconds(2));
        await scope.Cache.AcquireAsync(reference, "qcow2", Guid.NewGuid(), Ct);
        Assert.Equal(2, proxy.ShowRequests);

        // An image deleted in Glance stops backing new disks once the reused answer expires.
        await glance.Client.DeleteImageAsync(image.Id, Ct);
        time.Advance(TimeSpan.FromSeconds(31));
        await Assert.ThrowsAnyAsync<HypervisorException>(() => scope.Cache.AcquireAsync(reference, "qcow2", Guid.NewGuid(), Ct));
        Assert.Equal(3, proxy.ShowRequests);
        Assert.Equal(1, proxy.FileRequests);
    }

    [Fact]
    public async Task A_raw_image_is_probed_by_its_bytes_and_converted_to_qcow2()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var raw = files.Raw("disk.raw", 1024 * 1024);
        var image = await glance.UploadAsync(raw, "raw", Ct);
        using var scope = new CacheScope(glance.Client);

        var resolved = await scope.Cache.PreCacheAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Ct);

        var info = ImageFilesInfo(resolved.Path);
        Assert.Equal(("qcow2", 1024L * 1024), (info.Format, info.VirtualSize));
        var back = files.PathOf("back.raw");
        ImageFiles.QemuImg("convert", "-q", "-f", "qcow2", "-O", "raw", resolved.Path, back);
        Assert.Equal(File.ReadAllBytes(raw), File.ReadAllBytes(back));
    }

    [Fact]
    public async Task A_qcow2_whose_backing_file_is_etc_shadow_is_refused_and_nothing_is_cached()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var evil = files.PathOf("evil.qcow2");
        ImageFiles.QemuImg("create", "-q", "-f", "qcow2", "-u", "-F", "raw", "-b", "/etc/shadow", evil, "1M");
        var image = await glance.UploadAsync(evil, "qcow2", Ct);
        using var scope = new CacheScope(glance.Client);

        var error = await Assert.ThrowsAsync<UnsafeImageException>(() => scope.Cache.AcquireAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Guid.NewGuid(), Ct));
        Assert.Contains("/etc/shadow", error.Message, StringComparison.Ordinal);
        Assert.Empty(scope.AllFiles());
    }

    [Fact]
    public async Task A_qcow2_with_an_external_data_file_is_refused_and_nothing_is_cached()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var evil = files.PathOf("evil.qcow2");
        ImageFiles.QemuImg("create", "-q", "-f", "qcow2", "-o", "data_file=" + files.PathOf("data.raw"), evil, "1M");
        var image = await glance.UploadAsync(evil, "qcow2", Ct);
        using var scope = new CacheScope(glance.Client);

        await Assert.ThrowsAsync<UnsafeImageException>(() => scope.Cache.AcquireAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Guid.NewGuid(), Ct));
        Assert.Empty(scope.AllFiles());
    }

    [Fact]
    public async Task An_image_whose_bytes_contradict_its_disk_format_is_refused()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Raw("disk.raw", 512 * 1024), "qcow2", Ct);
        using var scope = new CacheScope(glance.Client);

        var error = await Assert.ThrowsAsync<UnsafeImageException>(() => scope.Cache.PreCacheAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Ct));
        Assert.Contains("'raw'", error.Message, StringComparison.Ordinal);
        Assert.Empty(scope.AllFiles());
    }

    [Fact]
    public async Task A_disk_of_two_to_the_forty_bytes_is_refused_over_the_size_limit()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var huge = files.PathOf("huge.qcow2");
        ImageFiles.QemuImg("create", "-q", "-f", "qcow2", huge, (1L << 40).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var image = await glance.UploadAsync(huge, "qcow2", Ct);
        using var scope = new CacheScope(glance.Client);

        var error = await Assert.ThrowsAsync<UnsafeImageException>(() => scope.Cache.PreCacheAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Ct));
        Assert.Contains("1099511627776", error.Message, StringComparison.Ordinal);
        Assert.Empty(scope.AllFiles());
    }

    [Theory]
    [InlineData("digest")]
    [InlineData("truncated")]
    [InlineData("mid-stream")]
    public async Task A_bad_download_is_refused_with_a_typed_error_and_leaves_nothing_in_the_cache(string fault)
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Qcow2("disk.qcow2", 2 * 1024 * 1024), "qcow2", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        switch (fault)
        {
            case "digest":
                proxy.TamperedHash = Convert.ToHexStringLower(SHA512.HashData("not the image"u8));
                break;
            case "truncated":
                proxy.BreaksLeft = int.MaxValue;
                proxy.BreakAfterBytes = 4096;
                proxy.EndCleanly = true;
                break;
            default:
                proxy.BreaksLeft = 1;
                proxy.FailAfterBreak = true;
                break;
        }

        using var scope = new CacheScope(new Hypervisors.Images.Glance.GlanceClient(glance.Http, new() { Endpoint = proxy.Address, MaxResumeAttempts = 2, ResumeDelay = TimeSpan.Zero }));
        var error = await Assert.ThrowsAnyAsync<ImageException>(() => scope.Cache.AcquireAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Guid.NewGuid(), Ct));
        Assert.IsType(fault == "digest" ? typeof(ImageIntegrityException) : typeof(ImageSourceUnavailableException), error);
        Assert.Empty(scope.AllFiles());
        Assert.Empty(scope.Cache.List());
    }

    [Fact]
    public async Task Too_little_free_space_is_refused_before_anything_is_downloaded()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Qcow2("disk.qcow2", 1024 * 1024), "qcow2", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        using var scope = new CacheScope(new Hypervisors.Images.Glance.GlanceClient(glance.Http, new() { Endpoint = proxy.Address }), configure: o => o.MinimumFreeBytes = 1L << 30);
        scope.Cache.FreeSpace = _ => (1L << 30) + 1000;

        await Assert.ThrowsAsync<ImageCacheFullException>(() => scope.Cache.PreCacheAsync(ImageReference.Parse("glance:" + image.Id), "qcow2", Ct));
        Assert.Equal(0, proxy.FileRequests);
        Assert.Empty(scope.AllFiles());
    }

    [Fact]
    public async Task Unused_images_age_out_but_never_while_an_instance_holds_them_and_delete_refuses_them_too()
    {
        using var files = new ImageFiles();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var raw = files.Raw("disk.raw", 256 * 1024);
        using var scope = new CacheScope(null, paths: new ImageDirectoryAllowList([files.Directory]), time: time, configure: o => o.MaxUnusedAge = TimeSpan.FromHours(1));
        var instance = Guid.NewGuid();

        // A raw host file needed as qcow2 is converted into the cache under its SHA-256.
        var held = await scope.Cache.AcquireAsync(ImageReference.Parse("disk.raw"), "qcow2", instance, Ct);
        var entry = Assert.IsType<CachedImage>(held.Entry);
        Assert.Equal("sha256-" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(raw))) + ".qcow2", entry.Name);

        time.Advance(TimeSpan.FromHours(2));
        Assert.Empty(scope.Cache.EvictUnused());
        Assert.Equal(instance, Assert.Single(Assert.Single(scope.Cache.List()).Instances));
        var inUse = Assert.Throws<ImageInUseException>(() => scope.Cache.Delete(entry.Name));
        Assert.Equal(1, inUse.InstanceCount);

        Assert.Equal(1, scope.Cache.Release(instance));
        Assert.Equal([entry.Name], scope.Cache.EvictUnused());
        Assert.False(File.Exists(entry.Path));
        Assert.Empty(scope.Cache.List());
        Assert.Equal(1, scope.Metric("evictions"));
    }

    [Fact]
    public async Task A_host_file_in_the_wanted_format_is_used_in_place_and_one_outside_the_allowed_directories_is_refused()
    {
        using var files = new ImageFiles();
        var qcow2 = files.Qcow2("base.qcow2", 64 * 1024);
        using var scope = new CacheScope(null, paths: new ImageDirectoryAllowList([files.Directory]));

        var resolved = await scope.Cache.AcquireAsync(ImageReference.Parse("base.qcow2"), "qcow2", Guid.NewGuid(), Ct);
        Assert.Equal((qcow2, (CachedImage?)null), (resolved.Path, resolved.Entry));
        await Assert.ThrowsAsync<InvalidImageReferenceException>(() => scope.Cache.AcquireAsync(ImageReference.Parse("/etc/passwd"), "qcow2", Guid.NewGuid(), Ct));
        Assert.Empty(scope.AllFiles());
    }

    [Fact]
    public async Task An_https_reference_is_verified_against_its_digest()
    {
        using var files = new ImageFiles();
        var bytes = File.ReadAllBytes(files.Qcow2("disk.qcow2", 128 * 1024));
        await using var server = await FaultyGlanceProxy.StartAsync(new Uri("http://127.0.0.1:1"), Ct);
        server.Files["disk.qcow2"] = bytes;
        using var http = new HttpClient();
        using var scope = new CacheScope(null, http);
        var good = ImageReference.Parse($"{server.Address}files/disk.qcow2#sha256={Convert.ToHexStringLower(SHA256.HashData(bytes))}");
        var bad = ImageReference.Parse($"{server.Address}files/disk.qcow2#sha256={Convert.ToHexStringLower(SHA256.HashData("x"u8))}");

        await Assert.ThrowsAsync<ImageIntegrityException>(() => scope.Cache.PreCacheAsync(bad, "qcow2", Ct));
        Assert.Empty(scope.AllFiles());
        var resolved = await scope.Cache.PreCacheAsync(good, "qcow2", Ct);
        Assert.Equal(bytes, File.ReadAllBytes(resolved.Path));
    }

    private static QemuImageInfo ImageFilesInfo(string path) => QemuImgTool.ParseInfo(ImageFiles.QemuImg("info", "--output=json", path));
}
