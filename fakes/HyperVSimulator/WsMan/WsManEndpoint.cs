using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using HyperVSimulator.Cim;
using HyperVSimulator.Virtualization;
using HyperVSimulator.Wql;

namespace HyperVSimulator.WsMan;

/// <summary>
/// The /wsman endpoint: Basic authentication (401 with WWW-Authenticate otherwise), then Enumerate (WQL filter,
/// object/EPR/object-and-EPR modes, optimized enumeration), Pull, Release, Get and custom-method Invoke.
/// </summary>
public sealed class WsManEndpoint(HyperVHost host)
{
    private const int MaxOpenEnumerations = 4096;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Enumeration> _enumerations = new(StringComparer.Ordinal);

    private enum Mode
    {
        Object,
        Reference,
        ObjectAndReference,
    }

    private sealed class Enumeration(Queue<CimObject> items, IReadOnlyList<string>? projection, Mode mode)
    {
        public Queue<CimObject> Items { get; } = items;

        public IReadOnlyList<string>? Projection { get; } = projection;

        public Mode Mode { get; } = mode;

        public long LastUsed { get; set; } = Environment.TickCount64;
    }

    public async Task HandleAsync(HttpContext context)
    {
        if (!IsAuthorized(context.Request))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"WSMAN\"";
            return;
        }

        if (context.Request.ContentType?.Contains("application/soap+xml", StringComparison.OrdinalIgnoreCase) != true)
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        string? relatesTo = null;
        byte[] response;
        var status = StatusCodes.Status200OK;
        try
        {
            var body = await ReadBoundedAsync(context.Request, host.Options.MaxEnvelopeSize, context.RequestAborted);
            var request = WsManRequest.Parse(body);
            relatesTo = request.MessageId;
            host.Behavior.CountRequest(request.Action);
            await host.Behavior.HoldAsync(request.Action, context.RequestAborted);
            response = Dispatch(request);
        }
        catch (WsManFaultException fault)
        {
            status = StatusCodes.Status500InternalServerError;
            response = ResponseWriter.Fault(fault, relatesTo, host.Options.HostName);
        }
        catch (WqlException ex)
        {
            status = StatusCodes.Status500InternalServerError;
            response = ResponseWriter.Fault(new WsManFaultException("wsman:CannotProcessFilter", "The WQL query is not valid: " + ex.Message), relatesTo, host.Options.HostName);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/soap+xml;charset=UTF-8";
        await context.Response.Body.WriteAsync(response, context.RequestAborted);
    }

    private bool IsAuthorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon > 0 && decoded[..colon] == host.Options.UserName && decoded[(colon + 1)..] == host.Options.Password;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            throw new WsManFaultException("wsman:EncodingLimit", $"The request exceeds the maximum envelope size of {limit} bytes.");
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new WsManFaultException("wsman:EncodingLimit", $"The request exceeds the maximum envelope size of {limit} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private byte[] Dispatch(WsManRequest request)
    {
        const string Enumeration = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/";
        return request.Action switch
        {
            Enumeration + "Enumerate" => Enumerate(request),
            Enumeration + "Pull" => Pull(request),
            Enumeration + "Release" => Release(request),
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get" => Get(request),
            _ when request.Action.StartsWith(request.ResourceUri + "/", StringComparison.OrdinalIgnoreCase) => Invoke(request),
            _ => throw new WsManFaultException("wsa:ActionNotSupported", $"The action {request.Action} is not supported."),
        };
    }

    private byte[] Enumerate(WsManRequest request)
    {
        var enumerate = request.Body.Element(Ns.Wsen + "Enumerate") ?? throw new WsManFaultException("wsman:SchemaValidationError", "The body holds no wsen:Enumerate.");
        var (wmiNamespace, className) = request.Resource;
        var filter = enumerate.Element(Ns.Wsman + "Filter");
        WqlQuery query;
        if (filter is not null)
        {
            var dialect = (string?)filter.Attribute("Dialect") ?? Ns.WqlDialect;
            if (!string.Equals(dialect, Ns.WqlDialect, StringComparison.OrdinalIgnoreCase))
            {
                throw new WsManFaultException("wsen:FilterDialectRequestedUnavailable", $"The filter dialect {dialect} is not supported; use {Ns.WqlDialect}.");
            }

            query = WqlParser.Parse(filter.Value);
        }
        else if (className == "*")
        {
            throw new WsManFaultException("wsman:CannotProcessFilter", "Enumerating a wildcard resource URI needs a WQL filter.");
        }
        else
        {
            query = new SelectQuery(null, className, null);
        }

        var mode = enumerate.Element(Ns.Wsman + "EnumerationMode")?.Value.Trim() switch
        {
            null => Mode.Object,
            "EnumerateEPR" => Mode.Reference,
            "EnumerateObjectAndEPR" => Mode.ObjectAndReference,
            var other => throw new WsManFaultException("wsman:UnsupportedFeature", $"Enumeration mode {other} is not supported."),
        };
        var items = new Queue<CimObject>(host.Query(wmiNamespace, query));
        var state = new Enumeration(items, (query as SelectQuery)?.Properties, mode);
        var optimize = enumerate.Element(Ns.Wsman + "OptimizeEnumeration") is not null;
        var max = MaxElements(enumerate.Element(Ns.Wsman + "MaxElements"));
        var batch = optimize ? Take(state, max) : [];
        var id = optimize && state.Items.Count == 0 ? null : Open(state);
        return ResponseWriter.Envelope("http://schemas.xmlsoap.org/ws/2004/09/enumeration/EnumerateResponse", request.MessageId, w =>
        {
            w.WriteStartElement("EnumerateResponse", Ns.Wsen.NamespaceName);
            if (id is not null)
            {
                w.WriteElementString("EnumerationContext", Ns.Wsen.NamespaceName, id);
            }

            if (optimize)
            {
                WriteItems(w, Ns.Wsman, state, batch);
                if (id is null)
                {
                    w.WriteElementString("EndOfSequence", Ns.Wsman.NamespaceName, string.Empty);
                }
            }

            w.WriteEndElement();
        });
    }

    private byte[] Pull(WsManRequest request)
    {
        var pull = request.Body.Element(Ns.Wsen + "Pull") ?? throw new WsManFaultException("wsman:SchemaValidationError", "The body holds no wsen:Pull.");
        var id = pull.Element(Ns.Wsen + "EnumerationContext")?.Value.Trim() ?? string.Empty;
        Enumeration? state;
        lock (_gate)
        {
            _enumerations.TryGetValue(id, out state);
        }

        if (state is null)
        {
            throw new WsManFaultException("wsen:InvalidEnumerationContext", "The enumeration context is not valid.");
        }

        List<CimObject> batch;
        bool ended;
        lock (state)
        {
            batch = Take(state, MaxElements(pull.Element(Ns.Wsen + "MaxElements")));
            ended = state.Items.Count == 0;
            state.LastUsed = Environment.TickCount64;
        }

        if (ended)
        {
            lock (_gate)
            {
                _enumerations.Remove(id);
            }
        }

        return ResponseWriter.Envelope("http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse", request.MessageId, w =>
        {
            w.WriteStartElement("PullResponse", Ns.Wsen.NamespaceName);
            if (!ended)
            {
                w.WriteElementString("EnumerationContext", Ns.Wsen.NamespaceName, id);
            }

            WriteItems(w, Ns.Wsen, state, batch);
            if (ended)
            {
                w.WriteElementString("EndOfSequence", Ns.Wsen.NamespaceName, string.Empty);
            }

            w.WriteEndElement();
        });
    }

    private byte[] Release(WsManRequest request)
    {
        var id = request.Body.Element(Ns.Wsen + "Release")?.Element(Ns.Wsen + "EnumerationContext")?.Value.Trim() ?? string.Empty;
        lock (_gate)
        {
            if (!_enumerations.Remove(id))
            {
                throw new WsManFaultException("wsen:InvalidEnumerationContext", "The enumeration context is not valid.");
            }
        }

        return ResponseWriter.Envelope("http://schemas.xmlsoap.org/ws/2004/09/enumeration/ReleaseResponse", request.MessageId, _ => { });
    }

    private byte[] Get(WsManRequest request)
    {
        var (_, className) = request.Resource;
        var instance = host.Get(className, request.Selectors);
        return ResponseWriter.Envelope("http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse", request.MessageId, w => ResponseWriter.Instance(w, instance));
    }

    private byte[] Invoke(WsManRequest request)
    {
        var (_, className) = request.Resource;
        var method = request.Action[(request.ResourceUri.Length + 1)..];
        var inputElement = request.Body.Elements().FirstOrDefault(e => e.Name.LocalName == method + "_INPUT")
            ?? throw new WsManFaultException("wsman:SchemaValidationError", $"The body holds no {method}_INPUT.");
        var values = new Dictionary<string, List<object>>(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in inputElement.Elements())
        {
            if ((string?)parameter.Attribute(Ns.Xsi + "nil") == "true")
            {
                continue;
            }

            if (!values.TryGetValue(parameter.Name.LocalName, out var list))
            {
                list = [];
                values[parameter.Name.LocalName] = list;
            }

            list.Add((object?)WsManRequest.ReadReference(parameter) ?? parameter.Value);
        }

        var result = host.Invoke(className, request.Selectors, method, new MethodInput(values));
        XNamespace uri = request.ResourceUri;
        return ResponseWriter.Envelope(request.Action + "Response", request.MessageId, w =>
        {
            w.WriteStartElement("p", method + "_OUTPUT", uri.NamespaceName);
            foreach (var (name, value) in result.Outputs)
            {
                foreach (var item in value is IEnumerable<CimReference> many ? many.Cast<object>() : [value])
                {
                    w.WriteStartElement(name, uri.NamespaceName);
                    if (item is CimReference reference)
                    {
                        ResponseWriter.ReferenceContent(w, reference);
                    }
                    else
                    {
                        w.WriteString(Convert.ToString(item, CultureInfo.InvariantCulture));
                    }

                    w.WriteEndElement();
                }
            }

            w.WriteElementString("ReturnValue", uri.NamespaceName, result.ReturnValue.ToString(CultureInfo.InvariantCulture));
            w.WriteEndElement();
        });
    }

    private int MaxElements(XElement? element) =>
        int.TryParse(element?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var max) ? Math.Clamp(max, 1, 32000) : host.Options.DefaultMaxElements;

    private static List<CimObject> Take(Enumeration state, int max)
    {
        var batch = new List<CimObject>();
        while (batch.Count < max && state.Items.TryDequeue(out var item))
        {
            batch.Add(item);
        }

        return batch;
    }

    private string Open(Enumeration state)
    {
        var id = "uuid:" + Guid.NewGuid().ToString("D").ToUpperInvariant();
        lock (_gate)
        {
            if (_enumerations.Count >= MaxOpenEnumerations)
            {
                var oldest = _enumerations.MinBy(e => e.Value.LastUsed).Key;
                _enumerations.Remove(oldest);
            }

            _enumerations[id] = state;
        }

        return id;
    }

    private static void WriteItems(XmlWriter w, XNamespace itemsNamespace, Enumeration state, List<CimObject> batch)
    {
        w.WriteStartElement("Items", itemsNamespace.NamespaceName);
        foreach (var item in batch)
        {
            switch (state.Mode)
            {
                case Mode.Object:
                    ResponseWriter.Instance(w, item.Project(state.Projection));
                    break;
                case Mode.Reference:
                    ResponseWriter.EndpointReference(w, CimReference.To(item));
                    break;
                default:
                    w.WriteStartElement("Item", Ns.Wsman.NamespaceName);
                    ResponseWriter.Instance(w, item.Project(state.Projection));
                    ResponseWriter.EndpointReference(w, CimReference.To(item));
                    w.WriteEndElement();
                    break;
            }
        }

        w.WriteEndElement();
    }
}
