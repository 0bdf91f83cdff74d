using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Xml.Linq;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Esx.Wire;

/// <summary>
/// A vim25 SOAP client for the subset the driver uses: one <see cref="HttpClient"/>, the
/// <c>vmware_soap_session</c> cookie, <c>RetrieveServiceContent</c>, <c>Login</c>/<c>Logout</c>, and a single
/// re-login when a call fails with <c>NotAuthenticated</c> (a restarted or expired server session).
/// Faults are thrown as <see cref="VimFaultException"/>; transport failures as the HTTP stack's exceptions.
/// </summary>
internal sealed partial class VimClient : IAsyncDisposable
{
    /// <summary>The root object of every vSphere endpoint.</summary>
    public static readonly ManagedObjectReference ServiceInstance = new("ServiceInstance", "ServiceInstance");

    private const string CookieName = "vmware_soap_session";
    private static readonly MediaTypeHeaderValue XmlContentType = MediaTypeHeaderValue.Parse("text/xml; charset=utf-8");

    private readonly VimClientOptions _options;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _loginGate = new(1, 1);
    private readonly string _soapAction;
    private volatile string? _cookie;
    private int _generation;
    private int _loginCount;
    private ServiceContent? _content;

    /// <summary>Creates the client; <paramref name="handler"/> replaces the network (tests).</summary>
    public VimClient(VimClientOptions options, ILogger? logger = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _soapAction = "urn:vim25/" + options.ApiVersion;
        if (handler is null)
        {
            var sockets = new SocketsHttpHandler
            {
                UseCookies = false,
                AutomaticDecompression = DecompressionMethods.None,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
                ConnectTimeout = TimeSpan.FromSeconds(15),
            };
            options.Tls.ApplyTo(sockets, refused => RefusedThumbprint = refused);
            handler = sockets;
        }

        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoint's service content; available after <see cref="ConnectAsync"/>.</summary>
    public ServiceContent Content => _content ?? throw new InvalidOperationException("The client is not connected.");

    /// <summary>Increases at every successful login; session-scoped objects (views, collectors) belong to one value.</summary>
    public int SessionGeneration => Volatile.Read(ref _generation);

    /// <summary>How many times the client has logged in.</summary>
    public int LoginCount => Volatile.Read(ref _loginCount);

    /// <summary>The SHA-256 thumbprint of the last server certificate refused, for the error message.</summary>
    public string? RefusedThumbprint { get; private set; }

    /// <summary>The SDK endpoint.</summary>
    public Uri SdkUrl => _options.SdkUrl;

    /// <summary>Reads the service content and logs in.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _content = await InvokeAsync("RetrieveServiceContent", ServiceInstance, null, r => ServiceContent.Read(r.Child("returnval")!), cancellationToken).ConfigureAwait(false);
        await LoginAsync(SessionGeneration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Calls <paramref name="method"/> and reads its response element with <paramref name="read"/>. On
    /// <c>NotAuthenticated</c> it logs in again once and repeats the call, unless the call is
    /// <paramref name="sessionScoped"/> (its target died with the old session): then it throws
    /// <c>ManagedObjectNotFound</c> so the owner recreates the object.
    /// </summary>
    public async Task<T> InvokeAsync<T>(string method, ManagedObjectReference target, Action<VimWriter>? parameters, Func<XElement, T> read,
        CancellationToken cancellationToken, bool sessionScoped = false, TimeSpan extraTimeout = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        var body = VimWriter.Build(method, target, parameters);
        for (var attempt = 0; ; attempt++)
        {
            var generation = SessionGeneration;
            try
            {
                var (response, _) = await SendAsync(method, body, captureCookie: false, extraTimeout, cancellationToken).ConfigureAwait(false);
                return read(response);
            }
            catch (VimFaultException fault) when (fault.FaultType == "NotAuthenticated" && attempt == 0 && generation > 0)
            {
                LogSessionLost(_logger, _options.SdkUrl, method);
                await LoginAsync(generation, cancellationToken).ConfigureAwait(false);
                if (sessionScoped)
                {
                    throw new VimFaultException("ManagedObjectNotFound", $"{target} belonged to the lost session.");
                }
            }
        }
    }

    /// <summary>Logs out (best effort) and releases the connection pool.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_cookie is not null && _content is not null)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var body = VimWriter.Build("Logout", _content.SessionManager, null);
                await SendAsync("Logout", body, captureCookie: false, default, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsCallFailure(ex))
            {
                LogLogoutFailed(_logger, ex, _options.SdkUrl);
            }
        }

        _http.Dispose();
        _loginGate.Dispose();
    }

    /// <summary>
    /// Whether <paramref name="exception"/> is how a call to the server fails (a fault, the transport, a timeout, a
    /// malformed or oversized answer), for clean-up paths that tolerate failure. <paramref name="orCancelled"/> adds
    /// cancellation.
    /// </summary>
    public static bool IsCallFailure(Exception exception, bool orCancelled = true) =>
        exception is VimFaultException or HttpRequestException or TimeoutException or IOException or System.Xml.XmlException or InvalidDataException
        || (orCancelled && exception is OperationCanceledException);

    private async Task LoginAsync(int observedGeneration, CancellationToken cancellationToken)
    {
        await _loginGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (SessionGeneration != observedGeneration)
            {
                return; // another call logged in again meanwhile
            }

            _cookie = null; // Login refuses a request that already carries a live session
            var credential = await _options.Credentials(cancellationToken).ConfigureAwait(false);
            var body = VimWriter.Build("Login", Content.SessionManager, w => w.Element("userName", credential.UserName).Element("password", credential.Password));
            var (_, cookie) = await SendAsync("Login", body, captureCookie: true, default, cancellationToken).ConfigureAwait(false);
            _cookie = cookie ?? throw new VimFaultException("NotAuthenticated", "Login returned no session cookie.");
            Interlocked.Increment(ref _loginCount);
            Interlocked.Increment(ref _generation);
            LogLoggedIn(_logger, _options.SdkUrl, credential.UserName, LoginCount);
        }
        finally
        {
            _loginGate.Release();
        }
    }

    private async Task<(XElement Response, string? Cookie)> SendAsync(string method, byte[] body, bool captureCookie, TimeSpan extraTimeout, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout + extraTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, _options.SdkUrl) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = XmlContentType;
        request.Headers.TryAddWithoutValidation("SOAPAction", _soapAction);
        if (_cookie is { } cookie)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.InternalServerError))
            {
                throw new HttpRequestException($"{method}: the server answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}.", null, response.StatusCode);
            }

            var content = await ReadBoundedAsync(response.Content, timeout.Token).ConfigureAwait(false);
            await using var contentDisposal = content.ConfigureAwait(false);
            var element = VimXml.ReadBody(content, _options.MaxResponseBytes);
            if (element.Name.LocalName == "Fault")
            {
                throw VimFaultException.FromSoapFault(element);
            }

            string? sessionCookie = null;
            if (captureCookie && response.Headers.TryGetValues("Set-Cookie", out var setCookies))
            {
                sessionCookie = setCookies.Select(c => c.Split(';', 2)[0].Trim()).FirstOrDefault(c => c.StartsWith(CookieName + "=", StringComparison.Ordinal));
            }

            return (element, sessionCookie);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"{method} did not answer within {_options.RequestTimeout + extraTimeout}.");
        }
    }

    private async Task<MemoryStream> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var max = _options.MaxResponseBytes;
        if (content.Headers.ContentLength > max)
        {
            throw new InvalidDataException($"The response of {content.Headers.ContentLength} bytes exceeds the limit of {max}.");
        }

        var result = new MemoryStream(content.Headers.ContentLength is { } length ? (int)length : 4096);
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var streamDisposal = stream.ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (result.Length + read > max)
                {
                    throw new InvalidDataException($"The response exceeds the limit of {max} bytes.");
                }

                result.Write(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        result.Position = 0;
        return result;
    }

    [LoggerMessage(EventId = 3001, EventName = "EsxSessionLost", Level = LogLevel.Information, Message = "vSphere session at {Url} was lost ({Method} failed with NotAuthenticated); logging in again.")]
    private static partial void LogSessionLost(ILogger logger, Uri url, string method);

    [LoggerMessage(EventId = 3002, EventName = "EsxLogoutFailed", Level = LogLevel.Debug, Message = "Logout from {Url} failed; the session will expire on its own.")]
    private static partial void LogLogoutFailed(ILogger logger, Exception exception, Uri url);

    [LoggerMessage(EventId = 3003, EventName = "EsxLoggedIn", Level = LogLevel.Information, Message = "Logged in to {Url} as {User} (login {Count}).")]
    private static partial void LogLoggedIn(ILogger logger, Uri url, string user, int count);
}
