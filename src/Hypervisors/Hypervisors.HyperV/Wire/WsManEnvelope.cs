using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Hypervisors.HyperV.Mapping;

namespace Hypervisors.HyperV.Wire;

/// <summary>What goes into the header of one WS-Man request.</summary>
internal sealed record WsManRequestHeader(
    Uri To,
    string Action,
    Uri ResourceUri,
    IReadOnlyList<KeyValuePair<string, string>>? Selectors,
    TimeSpan OperationTimeout,
    int MaxEnvelopeSize);

/// <summary>A method parameter value: a string, an <see cref="EmbeddedInstance"/>, an <see cref="EndpointReference"/>, or a list of one of these.</summary>
internal sealed record MethodParameter(string Name, object Value);

/// <summary>A SOAP fault as WinRM reports it, with the WMI error details when the provider sent them.</summary>
/// <param name="Subcode">The fault subcode as prefix:name with the prefixes of <see cref="HyperVErrorTable"/> (w:, a:, n:), or null.</param>
/// <param name="Reason">The fault's reason text.</param>
/// <param name="CimStatusCode">MSFT_WmiError.CIMStatusCode, or null.</param>
/// <param name="WmiMessage">MSFT_WmiError.Message or WSManFault/Message, or null.</param>
internal sealed record WsManFault(string? Subcode, string Reason, int? CimStatusCode, string? WmiMessage)
{
    /// <summary>The most specific native code for <see cref="HyperVErrorTable"/>: the CIM status when present, else the subcode.</summary>
    public string NativeCode => CimStatusCode is { } cim ? "cim:" + cim.ToString(CultureInfo.InvariantCulture) : Subcode ?? "w:InternalError";
}

/// <summary>Writes WS-Man request envelopes with <see cref="XmlWriter"/> and reads responses with DTDs refused.</summary>
internal static class WsManEnvelope
{
    public static byte[] Write(WsManRequestHeader header, Action<XmlWriter>? writeBody)
    {
        using var buffer = new MemoryStream();
        using (var w = XmlWriter.Create(buffer, new XmlWriterSettings { Encoding = new UTF8Encoding(false), Async = false }))
        {
            w.WriteStartElement("s", "Envelope", WsManNames.Soap.NamespaceName);
            w.WriteAttributeString("xmlns", "a", null, WsManNames.Addressing.NamespaceName);
            w.WriteAttributeString("xmlns", "n", null, WsManNames.Enumeration.NamespaceName);
            w.WriteAttributeString("xmlns", "w", null, WsManNames.WsMan.NamespaceName);
            w.WriteAttributeString("xmlns", "p", null, WsManNames.MicrosoftWsMan.NamespaceName);
            w.WriteStartElement("Header", WsManNames.Soap.NamespaceName);
            WriteMustUnderstand(w, WsManNames.Addressing, "To", header.To.AbsoluteUri, false);
            WriteMustUnderstand(w, WsManNames.WsMan, "ResourceURI", header.ResourceUri.AbsoluteUri, true);
            w.WriteStartElement("ReplyTo", WsManNames.Addressing.NamespaceName);
            WriteMustUnderstand(w, WsManNames.Addressing, "Address", WsManNames.AnonymousAddress, true);
            w.WriteEndElement();
            WriteMustUnderstand(w, WsManNames.Addressing, "Action", header.Action, true);
            WriteMustUnderstand(w, WsManNames.WsMan, "MaxEnvelopeSize", header.MaxEnvelopeSize.ToString(CultureInfo.InvariantCulture), true);
            w.WriteElementString("MessageID", WsManNames.Addressing.NamespaceName, "uuid:" + Guid.NewGuid().ToString("D").ToUpperInvariant());
            w.WriteStartElement("Locale", WsManNames.WsMan.NamespaceName);
            w.WriteAttributeString("xml", "lang", null, "en-US");
            w.WriteAttributeString("mustUnderstand", WsManNames.Soap.NamespaceName, "false");
            w.WriteEndElement();
            w.WriteElementString("OperationTimeout", WsManNames.WsMan.NamespaceName, XmlConvert.ToString(header.OperationTimeout));
            if (header.Selectors is { Count: > 0 } selectors)
            {
                WriteSelectorSet(w, selectors);
            }

            w.WriteEndElement();
            w.WriteStartElement("Body", WsManNames.Soap.NamespaceName);
            writeBody?.Invoke(w);
            w.WriteEndElement();
            w.WriteEndElement();
        }

        return buffer.ToArray();
    }

    private static void WriteMustUnderstand(XmlWriter w, XNamespace ns, string name, string value, bool mustUnderstand)
    {
        w.WriteStartElement(name, ns.NamespaceName);
        if (mustUnderstand)
        {
            w.WriteAttributeString("mustUnderstand", WsManNames.Soap.NamespaceName, "true");
        }

        w.WriteString(value);
        w.WriteEndElement();
    }

    public static void WriteSelectorSet(XmlWriter w, IEnumerable<KeyValuePair<string, string>> selectors)
    {
        w.WriteStartElement("SelectorSet", WsManNames.WsMan.NamespaceName);
        foreach (var (name, value) in selectors)
        {
            w.WriteStartElement("Selector", WsManNames.WsMan.NamespaceName);
            w.WriteAttributeString("Name", name);
            w.WriteString(value);
            w.WriteEndElement();
        }

        w.WriteEndElement();
    }

    public static void WriteEndpointReference(XmlWriter w, EndpointReference reference)
    {
        w.WriteElementString("Address", WsManNames.Addressing.NamespaceName, WsManNames.AnonymousAddress);
        w.WriteStartElement("ReferenceParameters", WsManNames.Addressing.NamespaceName);
        w.WriteElementString("ResourceURI", WsManNames.WsMan.NamespaceName, reference.ResourceUri.AbsoluteUri);
        WriteSelectorSet(w, reference.Selectors);
        w.WriteEndElement();
    }

    public static void WriteParameter(XmlWriter w, XNamespace methodNamespace, string name, object value)
    {
        switch (value)
        {
            case string text:
                w.WriteElementString(name, methodNamespace.NamespaceName, text);
                break;
            case EmbeddedInstance instance:
                w.WriteElementString(name, methodNamespace.NamespaceName, instance.ToCimXml());
                break;
            case EndpointReference reference:
                w.WriteStartElement(name, methodNamespace.NamespaceName);
                WriteEndpointReference(w, reference);
                w.WriteEndElement();
                break;
            case System.Collections.IEnumerable items:
                foreach (var item in items)
                {
                    WriteParameter(w, methodNamespace, name, item ?? throw new ArgumentException($"Parameter {name} holds a null item."));
                }

                break;
            default:
                throw new ArgumentException($"Parameter {name} has unsupported type {value.GetType().Name}.");
        }
    }

    /// <summary>Parses a response with DTDs prohibited, no resolver, and at most <paramref name="maxCharacters"/> characters.</summary>
    public static XDocument Parse(ReadOnlyMemory<byte> body, long maxCharacters)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = maxCharacters,
            MaxCharactersFromEntities = 1024,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = true,
        };
        try
        {
            using var stream = new MemoryStream(body.ToArray(), writable: false);
            using var reader = XmlReader.Create(stream, settings);
            var document = XDocument.Load(reader);
            if (document.Root?.Name != WsManNames.Soap + "Envelope" || document.Root.Element(WsManNames.Soap + "Body") is null)
            {
                throw Malformed($"the response is not a SOAP 1.2 envelope (root <{document.Root?.Name}>).", null);
            }

            return document;
        }
        catch (XmlException ex)
        {
            throw Malformed(ex.Message, ex);
        }
    }

    public static XElement Body(XDocument document) => document.Root!.Element(WsManNames.Soap + "Body")!;

    public static WsManException Malformed(string detail, Exception? inner) => WsManException.Malformed(detail, inner);

    /// <summary>Reads the SOAP fault in <paramref name="document"/>, or null when it holds none.</summary>
    public static WsManFault? ReadFault(XDocument document)
    {
        var fault = Body(document).Element(WsManNames.Soap + "Fault");
        if (fault is null)
        {
            return null;
        }

        var subcodeText = fault.Element(WsManNames.Soap + "Code")?.Element(WsManNames.Soap + "Subcode")?.Element(WsManNames.Soap + "Value")?.Value.Trim();
        string? subcode = null;
        if (!string.IsNullOrEmpty(subcodeText))
        {
            // Resolve the QName against the element's namespaces, then name it with the table's fixed prefixes.
            var colon = subcodeText.IndexOf(':', StringComparison.Ordinal);
            var local = colon >= 0 ? subcodeText[(colon + 1)..] : subcodeText;
            var ns = fault.Element(WsManNames.Soap + "Code")!.Element(WsManNames.Soap + "Subcode")!.Element(WsManNames.Soap + "Value")!
                .GetNamespaceOfPrefix(colon >= 0 ? subcodeText[..colon] : string.Empty);
            var prefix = ns == WsManNames.WsMan ? "w" : ns == WsManNames.Addressing ? "a" : ns == WsManNames.Enumeration ? "n" : "?";
            subcode = prefix + ":" + local;
        }

        var reason = fault.Element(WsManNames.Soap + "Reason")?.Elements(WsManNames.Soap + "Text").FirstOrDefault()?.Value.Trim() ?? "(no reason)";
        int? cimStatus = null;
        string? message = null;
        var detail = fault.Element(WsManNames.Soap + "Detail");
        if (detail is not null)
        {
            var wmiError = detail.Elements().FirstOrDefault(e => e.Name.LocalName == "MSFT_WmiError");
            if (wmiError is not null)
            {
                var statusText = wmiError.Elements().FirstOrDefault(e => e.Name.LocalName == "CIMStatusCode")?.Value;
                cimStatus = int.TryParse(statusText, NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;
                message = wmiError.Elements().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value.Trim();
            }

            var wsmanFault = detail.Element(WsManNames.WsManFault + "WSManFault");
            message ??= wsmanFault?.Element(WsManNames.WsManFault + "Message")?.Value.Trim();
        }

        return new WsManFault(subcode, reason, cimStatus, message);
    }

    /// <summary>Reads an instance element (a class-named element whose children are its properties).</summary>
    public static CimInstance ReadInstance(XElement element)
    {
        var properties = new Dictionary<string, List<object?>>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in element.Elements())
        {
            if (!properties.TryGetValue(child.Name.LocalName, out var values))
            {
                values = [];
                properties[child.Name.LocalName] = values;
            }

            values.Add(ReadValue(child));
        }

        return new CimInstance(element.Name.LocalName, properties.ToDictionary(p => p.Key, p => (IReadOnlyList<object?>)p.Value, StringComparer.OrdinalIgnoreCase));
    }

    public static EndpointReference ReadEndpointReference(XElement element)
    {
        var parameters = element.Element(WsManNames.Addressing + "ReferenceParameters")
            ?? throw Malformed($"<{element.Name.LocalName}> is not an endpoint reference.", null);
        var uriText = parameters.Element(WsManNames.WsMan + "ResourceURI")?.Value.Trim();
        if (!Uri.TryCreate(uriText, UriKind.Absolute, out var uri))
        {
            throw Malformed($"endpoint reference <{element.Name.LocalName}> has no valid ResourceURI.", null);
        }

        var selectors = parameters.Element(WsManNames.WsMan + "SelectorSet")?.Elements(WsManNames.WsMan + "Selector")
            .Select(s => new KeyValuePair<string, string>((string?)s.Attribute("Name") ?? string.Empty, s.Value))
            .ToList() ?? [];
        return new EndpointReference(uri, selectors);
    }

    private static object? ReadValue(XElement child)
    {
        if ((string?)child.Attribute(WsManNames.Xsi + "nil") is "true")
        {
            return null;
        }

        if (child.Element(WsManNames.Addressing + "ReferenceParameters") is not null)
        {
            return ReadEndpointReference(child);
        }

        // Datetimes and intervals come wrapped: <p:InstallDate><cim:Datetime>...</cim:Datetime></p:InstallDate>.
        var wrapped = child.Elements().FirstOrDefault(e => e.Name.Namespace == WsManNames.CimCommon);
        return wrapped?.Value ?? child.Value;
    }
}
