using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.HyperV.Wire;

/// <summary>How <see cref="WsManClient"/> talks to one WinRM endpoint.</summary>
internal sealed record WsManClientSettings
{
    /// <summary>The endpoint, e.g. <c>https://host:5986/wsman</c>.</summary>
    public required Uri Endpoint { get; init; }

    /// <summary>Supplies the credentials for each request (Basic authentication); never logged.</summary>
    public required Func<CancellationToken, ValueTask<NetworkCredential>> Credentials { get; init; }

    /// <summary>Basic (sent with every request) or Negotiate (through the platform's HttpClient support).</summary>
    public WsManAuthentication Authentication { get; init; } = WsManAuthentication.Basic;

    /// <summary>The server-side timeout sent as <c>w:OperationTimeout</c>.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest envelope the client accepts, sent as <c>w:MaxEnvelopeSize</c>.</summary>
    public int MaxEnvelopeSize { get; init; } = 512 * 1024;

    /// <summary>The largest response body read, in bytes; larger ones are refused.</summary>
    public int MaxResponseBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>The most items one enumeration may return in all.</summary>
    public int MaxEnumerationItems { get; init; } = 100_000;

    /// <summary>Items asked for per Enumerate/Pull.</summary>
    public int MaxElementsPerPull { get; init; } = 1000;
}

/// <summary>How the client authenticates.</summary>
public enum WsManAuthentication
{
    /// <summary>HTTP Basic, sent preemptively (libvirt's hyperv driver does the same).</summary>
    Basic,

    /// <summary>Negotiate/NTLM through <see cref="HttpClientHandler"/>'s platform support; needs GSSAPI/NTLM on Linux.</summary>
    Negotiate,
}

/// <summary>
/// A WS-Management client for WMI over WinRM: SOAP 1.2 over <see cref="HttpClient"/> to <c>/wsman</c>, with Enumerate
/// (WQL filter) and Pull, Get and Invoke. Every failure leaves it as a <see cref="WsManException"/> saying what failed on
/// the wire (fault, HTTP status, unreachable, timed out, malformed, too large); the driver gives it a contract meaning.
/// </summary>
internal sealed class WsManClient(HttpClient http, WsManClientSettings settings)
{
    private const int MaxConsecutiveEmptyPulls = 16;

    /// <summary>The settings in use.</summary>
    public WsManClientSettings Settings { get; } = settings;

    /// <summary>
    /// Runs <paramref name="wql"/> against <paramref name="wmiNamespace"/> and pulls until the end of the sequence.
    /// </summary>
    public async Task<IReadOnlyList<CimInstance>> EnumerateAsync(string wmiNamespace, string wql, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(wql);
        var resourceUri = WsManNames.WildcardResourceUri(wmiNamespace);
        var results = new List<CimInstance>();
        var response = await SendAsync(resourceUri, WsManNames.ActionEnumerate, null, w =>
        {
            w.WriteStartElement("Enumerate", WsManNames.Enumeration.NamespaceName);
            w.WriteElementString("OptimizeEnumeration", WsManNames.WsMan.NamespaceName, string.Empty);
            w.WriteElementString("MaxElements", WsManNames.WsMan.NamespaceName, Settings.MaxElementsPerPull.ToString(CultureInfo.InvariantCulture));
            w.WriteStartElement("Filter", WsManNames.WsMan.NamespaceName);
            w.WriteAttributeString("Dialect", WsManNames.WqlDialect);
            w.WriteString(wql);
            w.WriteEndElement();
            w.WriteEndElement();
        }, cancellationToken).ConfigureAwait(false);
        var body = Expect(response, WsManNames.Enumeration + "EnumerateResponse");
        var (context, ended) = ReadBatch(body, WsManNames.WsMan, results);
        var emptyPulls = 0;
        while (!ended && context is not null)
        {
            var before = results.Count;
            var pullContext = context;
            response = await SendAsync(resourceUri, WsManNames.ActionPull, null, w =>
            {
                w.WriteStartElement("Pull", WsManNames.Enumeration.NamespaceName);
                w.WriteElementString("EnumerationContext", WsManNames.Enumeration.NamespaceName, pullContext);
                w.WriteElementString("MaxElements", WsManNames.Enumeration.NamespaceName, Settings.MaxElementsPerPull.ToString(CultureInfo.InvariantCulture));
                w.WriteEndElement();
            }, cancellationToken).ConfigureAwait(false);
            body = Expect(response, WsManNames.Enumeration + "PullResponse");
            (context, ended) = ReadBatch(body, WsManNames.Enumeration, results);
            emptyPulls = results.Count == before ? emptyPulls + 1 : 0;
            if (emptyPulls >= MaxConsecutiveEmptyPulls)
            {
                throw WsManEnvelope.Malformed($"{MaxConsecutiveEmptyPulls} pulls in a row returned nothing without ending the enumeration.", null);
            }
        }

        return results;
    }

    /// <summary>Reads one instance by its selectors.</summary>
    public async Task<CimInstance> GetAsync(EndpointReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var response = await SendAsync(reference.ResourceUri, WsManNames.ActionGet, reference.Selectors, null, cancellationToken).ConfigureAwait(false);
        var instance = WsManEnvelope.Body(response).Elements().FirstOrDefault()
            ?? throw WsManEnvelope.Malformed("the Get response has an empty body.", null);
        return WsManEnvelope.ReadInstance(instance);
    }

    /// <summary>
    /// Invokes <paramref name="method"/> on the instance <paramref name="target"/> and returns its
    /// <c>&lt;method&gt;_OUTPUT</c> (ReturnValue and out parameters).
    /// </summary>
    public async Task<CimInstance> InvokeAsync(EndpointReference target, string method, IReadOnlyList<MethodParameter> parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(parameters);
        XNamespace methodNamespace = target.ResourceUri.AbsoluteUri;
        var response = await SendAsync(target.ResourceUri, target.ResourceUri.AbsoluteUri + "/" + method, target.Selectors, w =>
        {
            w.WriteStartElement("p", method + "_INPUT", methodNamespace.NamespaceName);
            foreach (var parameter in parameters)
            {
                WsManEnvelope.WriteParameter(w, methodNamespace, parameter.Name, parameter.Value);
            }

            w.WriteEndElement();
        }, cancellationToken).ConfigureAwait(false);
        var output = WsManEnvelope.Body(response).Elements().FirstOrDefault(e => e.Name.LocalName == method + "_OUTPUT")
            ?? throw WsManEnvelope.Malformed($"the response to {method} holds no {method}_OUTPUT.", null);
        return WsManEnvelope.ReadInstance(output);
    }

    private static XElement Expect(XDocument response, XName name) =>
        WsManEnvelope.Body(response).Element(name) ?? throw WsManEnvelope.Malformed($"expected <{name.LocalName}> in the body.", null);

    private (string? Context, bool Ended) ReadBatch(XElement body, XNamespace itemsNamespace, List<CimInstance> results)
    {
        var items = body.Element(itemsNamespace + "Items") ?? body.Element(WsManNames.Enumeration + "Items") ?? body.Element(WsManNames.WsMan + "Items");
        foreach (var item in items?.Elements() ?? [])
        {
            if (results.Count >= Settings.MaxEnumerationItems)
            {
                throw WsManEnvelope.Malformed($"the enumeration returned more than {Settings.MaxEnumerationItems} items.", null);
            }

            results.Add(WsManEnvelope.ReadInstance(item));
        }

        var ended = body.Element(itemsNamespace + "EndOfSequence") is not null
            || body.Element(WsManNames.WsMan + "EndOfSequence") is not null
            || body.Element(WsManNames.Enumeration + "EndOfSequence") is not null;
        var context = body.Element(WsManNames.Enumeration + "EnumerationContext")?.Value.Trim();
        return (string.IsNullOrEmpty(context) ? null : context, ended);
    }

    private async Task<XDocument> SendAsync(Uri resourceUri, string action, IReadOnlyList<KeyValuePair<string, string>>? selectors, Action<XmlWriter>? writeBody, CancellationToken cancellationToken)
    {
        var payload = WsManEnvelope.Write(new WsManRequestHeader(Settings.Endpoint, action, resourceUri, selectors, Settings.OperationTimeout, Settings.MaxEnvelopeSize), writeBody);
        using var request = new HttpRequestMessage(HttpMethod.Post, Settings.Endpoint) { Content = new ByteArrayContent(payload) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/soap+xml;charset=UTF-8");
        if (Settings.Authentication == WsManAuthentication.Basic)
        {
            var credential = await Settings.Credentials(cancellationToken).ConfigureAwait(false);
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes(credential.UserName + ":" + credential.Password));
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", token);
        }

        HttpResponseMessage response;
        byte[] body;
        var host = Settings.Endpoint.GetLeftPart(UriPartial.Authority);
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new WsManException(WsManFailure.Unreachable, "wsman:Unreachable", $"Cannot reach the Hyper-V host at {host}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WsManException(WsManFailure.TimedOut, "wsman:TimedOut", $"The Hyper-V host at {host} did not answer {ShortAction(action)} in time.", ex);
        }

        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new WsManException(WsManFailure.Unauthorized, "http:401", $"The Hyper-V host at {host} refused the credentials (HTTP 401).") { HttpStatus = 401 };
            }

            try
            {
                body = await ReadBoundedAsync(response.Content, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw new WsManException(WsManFailure.Unreachable, "wsman:Dropped", $"The connection to the Hyper-V host dropped while reading the answer to {ShortAction(action)}: {ex.Message}", ex);
            }
            catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new WsManException(WsManFailure.TimedOut, "wsman:TimedOut", $"The Hyper-V host did not finish answering {ShortAction(action)} in time.", ex);
            }

            var isSoap = response.Content.Headers.ContentType?.MediaType is "application/soap+xml" or "text/xml" or "application/xml";
            if (!response.IsSuccessStatusCode && (!isSoap || body.Length == 0))
            {
                var status = (int)response.StatusCode;
                throw new WsManException(WsManFailure.HttpStatus, "http:" + status.ToString(CultureInfo.InvariantCulture),
                    $"The Hyper-V host answered {ShortAction(action)} with HTTP {status}.") { HttpStatus = status };
            }
        }

        var document = WsManEnvelope.Parse(body, Settings.MaxResponseBytes);
        if (WsManEnvelope.ReadFault(document) is { } fault)
        {
            var detail = fault.WmiMessage is null ? fault.Reason : fault.Reason + " " + fault.WmiMessage;
            var className = resourceUri.AbsoluteUri[(resourceUri.AbsoluteUri.LastIndexOf('/') + 1)..];
            throw new WsManException(WsManFailure.Fault, fault.NativeCode, $"{ShortAction(action)} on {className} failed: {detail}") { ClassName = className };
        }

        return document;
    }

    private async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > Settings.MaxResponseBytes)
        {
            throw TooLarge();
        }

        using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > Settings.MaxResponseBytes)
            {
                throw TooLarge();
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private WsManException TooLarge() =>
        new(WsManFailure.TooLarge, "w:EncodingLimit", $"The Hyper-V host sent a response larger than {Settings.MaxResponseBytes} bytes; refused.");

    private static string ShortAction(string action) => action[(action.LastIndexOf('/') + 1)..];
}
