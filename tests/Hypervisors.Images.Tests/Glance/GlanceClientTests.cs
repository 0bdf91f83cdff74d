using System.Security.Cryptography;
using Hypervisors.Images.Glance;
using Hypervisors.Images.Tests.Support;

namespace Hypervisors.Images.Tests.Glance;

/// <summary>The Glance v2 client against the real glance-api, directly and through a proxy that breaks connections.</summary>
public sealed class GlanceClientTests
{
    private const int ImageBytes = 3 * 1024 * 1024;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_uploaded_image_is_active_with_a_sha512_and_downloads_verified_byte_for_byte()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var path = files.Raw("disk.raw", ImageBytes);
        var image = await glance.UploadAsync(path, "raw", Ct);
        Assert.True(image.IsActive, image.Status);
        Assert.Equal(("sha512", Convert.ToHexStringLower(SHA512.HashData(File.ReadAllBytes(path)))), (image.OsHashAlgo, image.OsHashValue));
        Assert.Equal(ImageBytes, image.Size);

        using var received = new MemoryStream();
        var digest = await glance.Client.DownloadAsync(image, received, Ct);
        Assert.Equal("sha512", digest.Algorithm);
        Assert.Equal(File.ReadAllBytes(path), received.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_download_broken_off_twice_resumes_with_range_requests_from_where_it_stopped(bool endsCleanly)
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var path = files.Raw("disk.raw", ImageBytes);
        var image = await glance.UploadAsync(path, "raw", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        proxy.BreaksLeft = 2;
        proxy.BreakAfterBytes = 1024 * 1024;
        proxy.EndCleanly = endsCleanly;

        using var received = new MemoryStream();
        await ClientFor(glance, proxy).DownloadAsync(image, received, Ct);

        Assert.Equal(File.ReadAllBytes(path), received.ToArray());
        Assert.Equal(3, proxy.Ranges.Count);
        Assert.Null(proxy.Ranges[0]);
        if (endsCleanly)
        {
            Assert.Equal(["bytes=1048576-", "bytes=2097152-"], proxy.Ranges.Skip(1));
        }
        else
        {
            // An aborted connection may lose bytes in flight (all of them, when the abort overtakes the data, and then
            // the retry asks from the start, without a range): each resume starts where the client's data ends,
            // never before it nor beyond what was sent.
            var offsets = proxy.Ranges.Skip(1)
                .Select(r => r is null ? 0 : long.Parse(r["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.True(offsets[0] is >= 0 and <= 1048576 && offsets[1] >= offsets[0] && offsets[1] <= offsets[0] + 1048576, string.Join(", ", proxy.Ranges));
        }
    }

    [Fact]
    public async Task Glance_failing_mid_stream_is_a_typed_unavailable_error()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Raw("disk.raw", ImageBytes), "raw", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        proxy.BreaksLeft = 1;
        proxy.FailAfterBreak = true;

        var error = await Assert.ThrowsAsync<ImageSourceUnavailableException>(() => ClientFor(glance, proxy).DownloadAsync(image, new MemoryStream(), Ct));
        Assert.True(error.IsTransient);
        Assert.Equal(2, proxy.FileRequests);
    }

    [Fact]
    public async Task A_download_that_never_completes_gives_up_after_the_resume_limit()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Raw("disk.raw", ImageBytes), "raw", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        proxy.BreaksLeft = int.MaxValue;
        proxy.BreakAfterBytes = 1000;

        await Assert.ThrowsAsync<ImageSourceUnavailableException>(() => ClientFor(glance, proxy, maxResumes: 3).DownloadAsync(image, new MemoryStream(), Ct));
        Assert.Equal(4, proxy.FileRequests);
    }

    [Fact]
    public async Task Bytes_that_do_not_match_the_os_hash_are_refused()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        using var files = new ImageFiles();
        var image = await glance.UploadAsync(files.Raw("disk.raw", 100_000), "raw", Ct);
        await using var proxy = await FaultyGlanceProxy.StartAsync(CiGlance.Endpoint, Ct);
        proxy.TamperedHash = Convert.ToHexStringLower(SHA512.HashData("other"u8));
        var client = ClientFor(glance, proxy);

        var tampered = await client.GetImageAsync(image.Id, Ct);
        var error = await Assert.ThrowsAsync<ImageIntegrityException>(() => client.DownloadAsync(tampered, new MemoryStream(), Ct));
        Assert.Contains("sha512", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_active_images_are_downloaded()
    {
        await using var glance = await CiGlance.ConnectAsync(Ct);
        var queued = await glance.CreateQueuedAsync(Ct);
        Assert.Equal("queued", queued.Status);
        await Assert.ThrowsAsync<InvalidImageReferenceException>(() => glance.Client.DownloadAsync(queued, new MemoryStream(), Ct));
        await Assert.ThrowsAsync<InvalidImageReferenceException>(() => glance.Client.GetImageAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public void The_md5_checksum_is_used_only_where_the_image_has_no_os_hash()
    {
        var md5 = new string('a', 32);
        var sha = new string('b', 128);
        var withHash = new GlanceImage { Id = Guid.NewGuid(), Status = "active", Checksum = md5, OsHashAlgo = "sha512", OsHashValue = sha };
        Assert.Equal(("sha512", sha), (GlanceClient.ExpectedDigest(withHash).Algorithm, GlanceClient.ExpectedDigest(withHash).Hex));
        Assert.Equal("md5", GlanceClient.ExpectedDigest(withHash with { OsHashAlgo = null, OsHashValue = null }).Algorithm);
        Assert.Throws<ImageIntegrityException>(() => GlanceClient.ExpectedDigest(withHash with { OsHashAlgo = "sha3_512" }));
        Assert.Throws<ImageIntegrityException>(() => GlanceClient.ExpectedDigest(withHash with { OsHashAlgo = null, OsHashValue = null, Checksum = null }));
    }

    [Fact]
    public async Task A_token_is_required_off_loopback_and_is_read_from_its_file_for_each_request()
    {
        using var http = new HttpClient();
        Assert.Throws<ArgumentException>(() => new GlanceClient(http, new GlanceClientOptions { Endpoint = new Uri("https://glance.example.org") }));

        var tokenFile = Path.GetTempFileName();
        try
        {
            var seen = new List<string?>();
            using var recording = new HttpClient(new RecordingHandler(seen));
            var client = new GlanceClient(recording, new GlanceClientOptions { Endpoint = new Uri("https://glance.example.org"), TokenFile = tokenFile });
            await File.WriteAllTextAsync(tokenFile, "first-token\n", Ct);
            await Assert.ThrowsAsync<InvalidImageReferenceException>(() => client.GetImageAsync(Guid.NewGuid(), Ct));
            await File.WriteAllTextAsync(tokenFile, "second-token", Ct);
            await Assert.ThrowsAsync<InvalidImageReferenceException>(() => client.GetImageAsync(Guid.NewGuid(), Ct));
            Assert.Equal(["first-token", "second-token"], seen);
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    private static GlanceClient ClientFor(CiGlance glance, FaultyGlanceProxy proxy, int maxResumes = 5) =>
        new(glance.Http, new GlanceClientOptions { Endpoint = proxy.Address, MaxResumeAttempts = maxResumes, ResumeDelay = TimeSpan.FromMilliseconds(10) });

    private sealed class RecordingHandler(List<string?> tokens) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            tokens.Add(request.Headers.TryGetValues("X-Auth-Token", out var values) ? values.Single() : null);
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.NotFound));
        }
    }
}
