using System.Net;
using System.Net.Http.Headers;

namespace Hypervisors.Xen.Wire;

/// <summary>
/// One XenAPI endpoint over HTTP: encodes a call, POSTs it, reads the (size-bounded) answer and unwraps XenAPI's
/// envelope. Returns the <c>Value</c>; a <c>Failure</c> throws <see cref="XenApiFailureException"/>, bad bytes throw
/// <see cref="XenApiProtocolException"/>, and HTTP or connection errors and timeouts throw
/// <see cref="XenApiTransportException"/>: only its own exceptions, which the driver maps to the contract. It knows
/// nothing of sessions (see <see cref="Session.XenApiSession"/>).
/// </summary>
internal sealed class XenApiRpcClient : IDisposable
{
    private static readonly MediaTypeHeaderValue XmlContentType = new("text/xml") { CharSet = "utf-8" };
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json") { CharSet = "utf-8" };

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _endpoint;
    private readonly XmlRpcLimits _limits;
    private readonly TimeSpan _requestTimeout;
    private long _nextId;

    /// <summary>Creates a client for the XenAPI server at <paramref name="baseUri"/>.</summary>
    /// <param name="baseUri">The server, e.g. <c>https://xcp-host/</c>; the path for each transport is added.</param>
    /// <param name="transport">XML-RPC or JSON-RPC.</param>
    /// <param name="http">The HTTP client to send with (its handler carries TLS settings).</param>
    /// <param name="requestTimeout">How long one call may take (event.from long-polls add their own timeout).</param>
    /// <param name="limits">Decoder bounds; <see cref="XmlRpcLimits.Default"/> when null.</param>
    /// <param name="ownsHttp">Whether disposing this client disposes <paramref name="http"/>.</param>
    public XenApiRpcClient(Uri baseUri, XenApiTransport transport, HttpClient http, TimeSpan requestTimeout, XmlRpcLimits? limits = null, bool ownsHttp = false)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        ArgumentNullException.ThrowIfNull(http);
        Transport = transport;
        _http = http;
        _ownsHttp = ownsHttp;
        _limits = limits ?? XmlRpcLimits.Default;
        _requestTimeout = requestTimeout;
        _endpoint = new UriBuilder(baseUri) { Path = transport == XenApiTransport.JsonRpc ? "/jsonrpc" : "/" }.Uri;
    }

    /// <summary>Whether <paramref name="exception"/> is one of the failures a call can end with (its own exceptions).</summary>
    public static bool IsCallFailure(Exception exception) =>
        exception is XenApiFailureException or XenApiProtocolException or XenApiTransportException;

    /// <summary>The wire protocol.</summary>
    public XenApiTransport Transport { get; }

    /// <summary>The URL calls are POSTed to.</summary>
    public Uri Endpoint => _endpoint;

    /// <summary>Calls <paramref name="method"/> and returns its value.</summary>
    /// <param name="method">The XenAPI method ("VM.get_record", "Async.VM.start", ...).</param>
    /// <param name="parameters">The parameters, session reference first where the method takes one.</param>
    /// <param name="extraTimeout">Time added to the request timeout (for long polls).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<object?> CallAsync(string method, IReadOnlyList<object?> parameters, TimeSpan extraTimeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        var body = Transport == XenApiTransport.JsonRpc
            ? JsonRpcCodec.EncodeCall(method, parameters, Interlocked.Increment(ref _nextId))
            : XmlRpcWriter.EncodeCall(method, parameters);
        var response = await PostAsync(method, body, extraTimeout, cancellationToken).ConfigureAwait(false);
        return Transport == XenApiTransport.JsonRpc ? JsonRpcCodec.DecodeResponse(response, _limits) : UnwrapXmlRpc(response);
    }

    /// <summary>
    /// Sends <paramref name="length"/> bytes from <paramref name="body"/> with <c>PUT</c> to one of XenAPI's HTTP
    /// handlers (<c>/import_raw_vdi</c>) on this server, through the same HTTP client (and so the same TLS settings
    /// and pins) as the calls, and reads the answer to its end. The query is built from escaped name/value pairs.
    /// A status other than 2xx throws <see cref="XenApiTransportException"/> with the status; broken connections and
    /// <paramref name="timeout"/> too.
    /// </summary>
    public async Task PutAsync(string path, IEnumerable<KeyValuePair<string, string>> query, Stream body, long length, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(body);
        var target = new UriBuilder(_endpoint)
        {
            Path = path,
            Query = string.Join('&', query.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value))),
        }.Uri;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var content = new StreamContent(body, 1 << 20);
        content.Headers.ContentLength = length;
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Put, target) { Content = content, Version = HttpVersion.Version11 };
        var server = _endpoint.GetLeftPart(UriPartial.Authority);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new XenApiTransportException($"XenAPI server {server} answered HTTP {(int)response.StatusCode} {response.ReasonPhrase} to PUT {path}.")
                {
                    HttpStatus = (int)response.StatusCode,
                };
            }

            // The handler answers before it reads the body and ends the answer when it is done with it.
            await ReadBoundedAsync(response.Content, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new XenApiTransportException($"PUT {path} to XenAPI server {server} did not finish within {timeout}.", ex) { TimedOut = true };
        }
        catch (HttpRequestException ex)
        {
            throw new XenApiTransportException($"PUT {path} to XenAPI server {server} failed: {ex.Message}", ex) { HttpStatus = (int?)ex.StatusCode };
        }
        catch (IOException ex)
        {
            throw new XenApiTransportException($"The connection to XenAPI server {server} broke during PUT {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Unwraps a XenAPI XML-RPC response: the envelope's Value, or a failure.</summary>
    public object? UnwrapXmlRpc(ReadOnlyMemory<byte> response)
    {
        var decoded = XmlRpcReader.ReadResponse(response, _limits);
        if (decoded.IsFault)
        {
            var fault = decoded.Value as Dictionary<string, object?>;
            throw new XenApiFailureException("XMLRPC_FAULT",
                [XenValue.ToText(fault?.GetValueOrDefault("faultCode")), XenValue.ToText(fault?.GetValueOrDefault("faultString"))]);
        }

        return UnwrapEnvelope(decoded.Value);
    }

    /// <summary>Unwraps <c>{Status: Success, Value}</c> or throws for <c>{Status: Failure, ErrorDescription}</c>.</summary>
    public static object? UnwrapEnvelope(object? envelope)
    {
        if (envelope is not Dictionary<string, object?> map || !map.TryGetValue("Status", out var status))
        {
            throw new XenApiProtocolException($"the response is not a XenAPI envelope (got {XenValue.Describe(envelope)}).");
        }

        return status switch
        {
            "Success" => map.TryGetValue("Value", out var value) ? value : throw new XenApiProtocolException("a Success envelope has no Value."),
            "Failure" => throw XenApiFailureException.FromDescription(map.GetValueOrDefault("ErrorDescription")),
            _ => throw new XenApiProtocolException($"unknown envelope Status '{XenValue.ToText(status)}'."),
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task<ReadOnlyMemory<byte>> PostAsync(string method, byte[] body, TimeSpan extraTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout + extraTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = Transport == XenApiTransport.JsonRpc ? JsonContentType : XmlContentType } },
            Version = HttpVersion.Version11,
        };
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new XenApiTransportException(
                    $"XenAPI server {_endpoint.GetLeftPart(UriPartial.Authority)} answered HTTP {(int)response.StatusCode} {response.ReasonPhrase} to {method}.")
                {
                    HttpStatus = (int)response.StatusCode,
                };
            }

            return await ReadBoundedAsync(response.Content, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new XenApiTransportException($"XenAPI call {method} got no answer within {_requestTimeout + extraTimeout}.", ex) { TimedOut = true };
        }
        catch (HttpRequestException ex)
        {
            throw new XenApiTransportException($"XenAPI server {_endpoint.GetLeftPart(UriPartial.Authority)} is unreachable: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            throw new XenApiTransportException($"The connection to XenAPI server {_endpoint.GetLeftPart(UriPartial.Authority)} broke: {ex.Message}", ex);
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        // UTF-8 needs at most 4 bytes per character, so this bound never cuts a document the decoder would accept.
        var maxBytes = _limits.MaxDocumentCharacters * 4;
        if (content.Headers.ContentLength is { } length && length > maxBytes)
        {
            throw new XenApiProtocolException($"the response is {length} bytes, more than the {maxBytes} allowed.");
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream(content.Headers.ContentLength is { } l ? (int)Math.Min(l, int.MaxValue) : 4096);
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new XenApiProtocolException($"the response is more than the {maxBytes} bytes allowed.");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
    }
}
