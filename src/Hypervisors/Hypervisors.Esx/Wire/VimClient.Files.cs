using System.Net;
using System.Net.Http.Headers;

namespace Hypervisors.Esx.Wire;

/// <summary>HTTP file transfers beside the SOAP calls: datastore files (<c>/folder</c>) and NFC lease device URLs.</summary>
internal sealed partial class VimClient
{
    /// <summary>
    /// The <c>/folder</c> URL of <paramref name="path"/> (slash-separated, relative to the datastore's root) on
    /// datastore <paramref name="datastore"/> of datacenter <paramref name="datacenterPath"/>, on the SDK's host.
    /// Every part is escaped; nothing is spliced into the URL unescaped.
    /// </summary>
    public Uri DatastoreFileUrl(string datacenterPath, string datastore, string path)
    {
        ArgumentNullException.ThrowIfNull(datacenterPath);
        ArgumentNullException.ThrowIfNull(datastore);
        ArgumentNullException.ThrowIfNull(path);
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0 || segments.Any(s => s is "." or ".."))
        {
            throw new ArgumentException($"'{path}' is not a file path inside a datastore.", nameof(path));
        }

        var builder = new UriBuilder(_options.SdkUrl)
        {
            Path = "/folder/" + string.Join('/', segments.Select(Uri.EscapeDataString)),
            Query = "dcPath=" + Uri.EscapeDataString(datacenterPath) + "&dsName=" + Uri.EscapeDataString(datastore),
            UserName = string.Empty,
            Password = string.Empty,
        };
        return builder.Uri;
    }

    /// <summary>
    /// An NFC lease device URL as the client must use it: vSphere writes <c>*</c> for the host, meaning the host the
    /// client talks to, and vcsim writes https even when it serves plain HTTP; both are taken from the SDK URL.
    /// </summary>
    public Uri LeaseDeviceUrl(string deviceUrl)
    {
        ArgumentNullException.ThrowIfNull(deviceUrl);
        const string AnyHost = "://*/";
        var anyHost = deviceUrl.IndexOf(AnyHost, StringComparison.Ordinal);
        var parsable = anyHost > 0 ? string.Concat(deviceUrl.AsSpan(0, anyHost), "://any-host/", deviceUrl.AsSpan(anyHost + AnyHost.Length)) : deviceUrl;
        if (!Uri.TryCreate(parsable, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http"))
        {
            throw new VimFaultException("InvalidResponse", "The lease gave a device URL that is not an http(s) URL.");
        }

        if (anyHost < 0 && !string.Equals(url.Host, _options.SdkUrl.Host, StringComparison.OrdinalIgnoreCase))
        {
            // A lease may name another host of the cluster; the session cookie goes only to the SDK's own host.
            throw new VimFaultException("InvalidResponse", $"The lease's device URL names host '{url.Host}', not the endpoint's.");
        }

        return new UriBuilder(url) { Scheme = _options.SdkUrl.Scheme, Host = _options.SdkUrl.Host, Port = _options.SdkUrl.Port }.Uri;
    }

    /// <summary>Whether the file at <paramref name="url"/> (a datastore URL) exists, by a <c>HEAD</c> with the session cookie.</summary>
    public async Task<bool> FileExistsAsync(Uri url, CancellationToken cancellationToken)
    {
        using var request = NewFileRequest(HttpMethod.Head, url);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.OK => true,
            HttpStatusCode.NotFound => false,
            _ => throw new HttpRequestException($"HEAD of a datastore file: the server answered HTTP {(int)response.StatusCode}.", null, response.StatusCode),
        };
    }

    /// <summary>
    /// Sends <paramref name="content"/> (<paramref name="length"/> bytes) to <paramref name="url"/> with
    /// <paramref name="method"/> (<c>PUT</c> for a datastore file, <c>PUT</c> or <c>POST</c> for an NFC device URL) and the
    /// session cookie; anything but a 2xx answer throws <see cref="HttpRequestException"/>.
    /// </summary>
    public async Task UploadAsync(HttpMethod method, Uri url, Stream content, long length, string contentType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var request = NewFileRequest(method, url);
        request.Content = new StreamContent(content, 1 << 20);
        request.Content.Headers.ContentLength = length;
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} of a file: the server answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}.", null, response.StatusCode);
        }
    }

    private HttpRequestMessage NewFileRequest(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        if (_cookie is { } cookie)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }

        return request;
    }
}
