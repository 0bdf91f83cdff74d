using System.Xml;
using System.Xml.Linq;
using HyperVSimulator.Virtualization;

namespace HyperVSimulator.WsMan;

/// <summary>The namespaces of the protocol, with the prefixes DSP0226's examples use (wsa, wsen, wsman).</summary>
public static class Ns
{
    public static readonly XNamespace Soap = "http://www.w3.org/2003/05/soap-envelope";
    public static readonly XNamespace Wsa = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
    public static readonly XNamespace Wsen = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
    public static readonly XNamespace Wsman = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
    public static readonly XNamespace Xsi = "http://www.w3.org/2001/XMLSchema-instance";
    public static readonly XNamespace Cim = "http://schemas.dmtf.org/wbem/wscim/1/common";
    public static readonly XNamespace WsmanFault = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault";
    public static readonly XNamespace CimBinding = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd";
    public const string Anonymous = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
    public const string WmiPrefix = "http://schemas.microsoft.com/wbem/wsman/1/wmi/";
    public const string WqlDialect = "http://schemas.microsoft.com/wbem/wsman/1/WQL";
}

/// <summary>A parsed request envelope.</summary>
public sealed record WsManRequest(
    string Action,
    string ResourceUri,
    string? MessageId,
    IReadOnlyList<KeyValuePair<string, string>> Selectors,
    XElement Body)
{
    /// <summary>The WMI namespace ("root/virtualization/v2") and class (or "*") of the resource URI.</summary>
    public (string Namespace, string ClassName) Resource
    {
        get
        {
            if (!ResourceUri.StartsWith(Ns.WmiPrefix, StringComparison.OrdinalIgnoreCase))
            {
                throw new WsManFaultException("wsa:DestinationUnreachable", $"The resource URI {ResourceUri} is not a WMI resource.");
            }

            var path = ResourceUri[Ns.WmiPrefix.Length..].TrimEnd('/');
            var slash = path.LastIndexOf('/');
            if (slash <= 0)
            {
                throw new WsManFaultException("wsa:DestinationUnreachable", $"The resource URI {ResourceUri} names no class.");
            }

            var selectorNamespace = Selectors.FirstOrDefault(s => s.Key == "__cimnamespace").Value;
            return (selectorNamespace ?? path[..slash], path[(slash + 1)..]);
        }
    }

    public static WsManRequest Parse(byte[] body)
    {
        XDocument document;
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = body.Length + 1L, IgnoreComments = true };
            using var reader = XmlReader.Create(new MemoryStream(body), settings);
            document = XDocument.Load(reader);
        }
        catch (XmlException ex)
        {
            throw new WsManFaultException("wsman:SchemaValidationError", "The request is not well-formed XML: " + ex.Message);
        }

        var envelope = document.Root;
        if (envelope?.Name != Ns.Soap + "Envelope")
        {
            throw new WsManFaultException("wsman:SchemaValidationError", "The request is not a SOAP 1.2 envelope.");
        }

        var header = envelope.Element(Ns.Soap + "Header") ?? throw new WsManFaultException("wsman:SchemaValidationError", "The request has no SOAP header.");
        var requestBody = envelope.Element(Ns.Soap + "Body") ?? throw new WsManFaultException("wsman:SchemaValidationError", "The request has no SOAP body.");
        var action = header.Element(Ns.Wsa + "Action")?.Value.Trim() ?? throw new WsManFaultException("wsa:MessageInformationHeaderRequired", "The request has no wsa:Action.");
        var resourceUri = header.Element(Ns.Wsman + "ResourceURI")?.Value.Trim() ?? throw new WsManFaultException("wsa:DestinationUnreachable", "The request has no wsman:ResourceURI.");
        var selectors = header.Element(Ns.Wsman + "SelectorSet")?.Elements(Ns.Wsman + "Selector")
            .Select(s => new KeyValuePair<string, string>((string?)s.Attribute("Name") ?? string.Empty, s.Value.Trim()))
            .ToList() ?? [];
        return new WsManRequest(action, resourceUri, header.Element(Ns.Wsa + "MessageID")?.Value.Trim(), selectors, requestBody);
    }

    /// <summary>Reads an endpoint reference: an element holding wsa:ReferenceParameters.</summary>
    public static CimReference? ReadReference(XElement element)
    {
        var parameters = element.Element(Ns.Wsa + "ReferenceParameters");
        if (parameters is null)
        {
            return null;
        }

        var uri = parameters.Element(Ns.Wsman + "ResourceURI")?.Value.Trim() ?? string.Empty;
        var keys = parameters.Element(Ns.Wsman + "SelectorSet")?.Elements(Ns.Wsman + "Selector")
            .Select(s => new KeyValuePair<string, string>((string?)s.Attribute("Name") ?? string.Empty, s.Value.Trim()))
            .Where(k => k.Key != "__cimnamespace")
            .ToList() ?? [];
        return new CimReference(uri[(uri.LastIndexOf('/') + 1)..], keys);
    }
}
