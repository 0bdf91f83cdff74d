using System.Net.Http.Headers;
using System.Net.Http.Json;
using Hypervisors.Images.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Images.Glance;

/// <summary>
/// A client of the Glance v2 image API: show, a streamed download verified against the image's
/// <c>os_hash_algo</c>/<c>os_hash_value</c> (the MD5 <c>checksum</c> only where no os_hash is set) and resumed with
/// Range requests after a broken connection, and create + upload for exporting a disk as an image.
/// </summary>
public sealed partial class GlanceClient
{
    private const string AuthHeader = "X-Auth-Token";
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly IGlanceTokenProvider? _tokens;
    private readonly GlanceClientOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a client over <paramref name="http"/> (whose lifetime the caller owns).</summary>
    /// <exception cref="ArgumentException">No endpoint, or an endpoint off loopback without a token.</exception>
    public GlanceClient(HttpClient http, GlanceClientOptions options, IGlanceTokenProvider? tokenProvider = null, ILogger<GlanceClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        _http = http;
        _options = options;
        var endpoint = options.Endpoint ?? throw new ArgumentException("GlanceClientOptions.Endpoint is required.", nameof(options));
        if (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"The Glance endpoint must be http(s), not '{endpoint.Scheme}'.", nameof(options));
        }

        _endpoint = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        _tokens = tokenProvider ?? (options.TokenFile is { } file ? new FileGlanceTokenProvider(file) : null);
        if (_tokens is null && !ImageReference.IsLoopback(endpoint))
        {
            throw new ArgumentException("A Glance endpoint off loopback needs an auth token: set TokenFile or pass a token provider.", nameof(options));
        }

        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The endpoint, ending with '/'.</summary>
    public Uri Endpoint => _endpoint;

    /// <summary>GET /v2/images/{id}.</summary>
    public async Task<GlanceImage> GetImageAsync(Guid imageId, CancellationToken cancellationToken = default)
    {
        var reference = GlanceImageReference.Scheme + imageId.ToString("D");
        using var request = await NewRequestAsync(HttpMethod.Get, ImagePath(imageId), cancellationToken).ConfigureAwait(false);
        using var response = await SendAsync(reference, request, cancellationToken).ConfigureAwait(false);
        return await ReadImageAsync(reference, response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The digest a download of <paramref name="image"/> must have: its os_hash, or its MD5 checksum where it has no
    /// os_hash. Throws for an image that is not active or has neither.
    /// </summary>
    public static ImageDigest ExpectedDigest(GlanceImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var reference = GlanceImageReference.Scheme + image.Id.ToString("D");
        if (!image.IsActive)
        {
            throw new InvalidImageReferenceException(reference, $"the image is '{image.Status}'; only active images can be used.");
        }

        if (!string.IsNullOrEmpty(image.OsHashAlgo) || !string.IsNullOrEmpty(image.OsHashValue))
        {
            return ImageDigest.TryCreate(image.OsHashAlgo ?? string.Empty, image.OsHashValue ?? string.Empty, out var multihash) && multihash!.Algorithm != "md5"
                ? multihash
                : throw new ImageIntegrityException(reference, $"the image's os_hash ({image.OsHashAlgo}) cannot be verified here.");
        }

        return ImageDigest.TryCreate("md5", image.Checksum ?? string.Empty, out var md5)
            ? md5!
            : throw new ImageIntegrityException(reference, "the image has neither an os_hash nor a checksum to verify it by.");
    }

    /// <summary>
    /// GET /v2/images/{id}/file into <paramref name="destination"/> (seekable, empty), verified against
    /// <see cref="ExpectedDigest"/> and the image's size while it streams. Returns the digest verified.
    /// </summary>
    public async Task<ImageDigest> DownloadAsync(GlanceImage image, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(destination);
        var digest = ExpectedDigest(image);
        var reference = GlanceImageReference.Scheme + image.Id.ToString("D");
        var download = new VerifiedDownload(_http, _options.MaxResumeAttempts, _options.ResumeDelay, _options.MaxImageBytes, _logger);
        var path = ImagePath(image.Id) + "/file";
        var bytes = await download.CopyAsync(reference, ct => NewRequestAsync(HttpMethod.Get, path, ct), digest, image.Size, destination, cancellationToken)
            .ConfigureAwait(false);
        LogDownloaded(_logger, image.Id, bytes, digest.Algorithm);
        return digest;
    }

    /// <summary>POST /v2/images: a queued image record, to upload data to.</summary>
    public async Task<GlanceImage> CreateImageAsync(GlanceImageCreate image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var request = await NewRequestAsync(HttpMethod.Post, "v2/images", cancellationToken).ConfigureAwait(false);
        request.Content = JsonContent.Create(image, GlanceJsonContext.Default.GlanceImageCreate);
        using var response = await SendAsync("glance:" + image.Name, request, cancellationToken).ConfigureAwait(false);
        return await ReadImageAsync("glance:" + image.Name, response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>PUT /v2/images/{id}/file: uploads the image data; the image turns active once Glance has stored it.</summary>
    public async Task UploadAsync(Guid imageId, Stream data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var reference = GlanceImageReference.Scheme + imageId.ToString("D");
        using var request = await NewRequestAsync(HttpMethod.Put, ImagePath(imageId) + "/file", cancellationToken).ConfigureAwait(false);
        request.Content = new StreamContent(data, 1 << 20);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (data.CanSeek)
        {
            request.Content.Headers.ContentLength = data.Length - data.Position;
        }

        using var response = await SendAsync(reference, request, cancellationToken).ConfigureAwait(false);
        LogUploaded(_logger, imageId);
    }

    /// <summary>Creates an image from a file on this host and uploads it; returns the image as Glance then shows it.</summary>
    public async Task<GlanceImage> UploadFileAsync(string path, GlanceImageCreate image, CancellationToken cancellationToken = default)
    {
        var created = await CreateImageAsync(image, cancellationToken).ConfigureAwait(false);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            await UploadAsync(created.Id, file, cancellationToken).ConfigureAwait(false);
        }

        return await GetImageAsync(created.Id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>DELETE /v2/images/{id}; false when there was no such image.</summary>
    public async Task<bool> DeleteImageAsync(Guid imageId, CancellationToken cancellationToken = default)
    {
        var reference = GlanceImageReference.Scheme + imageId.ToString("D");
        using var request = await NewRequestAsync(HttpMethod.Delete, ImagePath(imageId), cancellationToken).ConfigureAwait(false);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }

        VerifiedDownload.CheckStatus(reference, response);
        return true;
    }

    private static string ImagePath(Guid imageId) => "v2/images/" + imageId.ToString("D");

    private async ValueTask<HttpRequestMessage> NewRequestAsync(HttpMethod method, string relativePath, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, new Uri(_endpoint, relativePath));
        if (_tokens is not null && await _tokens.GetTokenAsync(cancellationToken).ConfigureAwait(false) is { } token)
        {
            request.Headers.TryAddWithoutValidation(AuthHeader, token);
        }

        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(string reference, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new ImageSourceUnavailableException(reference, $"Glance at {_endpoint} could not be reached: {ex.Message}", ex);
        }

        try
        {
            VerifiedDownload.CheckStatus(reference, response);
        }
        catch
        {
            response.Dispose();
            throw;
        }

        return response;
    }

    private static async Task<GlanceImage> ReadImageAsync(string reference, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync(GlanceJsonContext.Default.GlanceImage, cancellationToken).ConfigureAwait(false)
                ?? throw new ImageSourceUnavailableException(reference, "Glance answered with an empty image record.");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new ImageSourceUnavailableException(reference, $"Glance answered with a malformed image record: {ex.Message}", ex);
        }
    }

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "Downloaded Glance image {ImageId}: {Bytes} bytes, {Algorithm} verified")]
    private static partial void LogDownloaded(ILogger logger, Guid imageId, long bytes, string algorithm);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "Uploaded the data of Glance image {ImageId}")]
    private static partial void LogUploaded(ILogger logger, Guid imageId);
}
