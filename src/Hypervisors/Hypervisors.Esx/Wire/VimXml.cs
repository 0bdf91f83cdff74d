using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Esx.Wire;

/// <summary>Reads vim25 responses: a bounded, DTD-free <see cref="XmlReader"/> and helpers over the resulting tree.</summary>
internal static class VimXml
{
    /// <summary>The vim25 namespace.</summary>
    public static readonly XNamespace Vim = VimWriter.VimNamespace;

    /// <summary>The XML Schema instance namespace (for <c>xsi:type</c>).</summary>
    public static readonly XNamespace Xsi = "http://www.w3.org/2001/XMLSchema-instance";

    private static readonly XNamespace Soap = "http://schemas.xmlsoap.org/soap/envelope/";

    /// <summary>Parses a SOAP envelope and returns the first element of its body.</summary>
    public static XElement ReadBody(Stream stream, long maxCharacters)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = maxCharacters,
            MaxCharactersFromEntities = 0,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            CloseInput = false,
        };
        using var reader = XmlReader.Create(stream, settings);
        var envelope = XElement.Load(reader);
        var body = envelope.Element(Soap + "Body") ?? throw new XmlException("The SOAP envelope has no Body.");
        return body.Elements().FirstOrDefault() ?? throw new XmlException("The SOAP body is empty.");
    }

    /// <summary>The child in the vim25 namespace, or null.</summary>
    public static XElement? Child(this XElement element, string name) => element.Element(Vim + name);

    /// <summary>The children in the vim25 namespace.</summary>
    public static IEnumerable<XElement> Children(this XElement element, string name) => element.Elements(Vim + name);

    /// <summary>The text of a child, or null.</summary>
    public static string? ChildText(this XElement element, string name) => element.Element(Vim + name)?.Value;

    /// <summary>An integer child, or <paramref name="fallback"/>.</summary>
    public static long ChildLong(this XElement element, string name, long fallback = 0) =>
        long.TryParse(element.ChildText(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    /// <summary>The element as a managed object reference.</summary>
    public static ManagedObjectReference AsRef(this XElement element) =>
        new((string?)element.Attribute("type") ?? string.Empty, element.Value);

    /// <summary>A child managed object reference, or null.</summary>
    public static ManagedObjectReference? ChildRef(this XElement element, string name) =>
        element.Element(Vim + name) is { } child ? child.AsRef() : null;

    /// <summary>The <c>xsi:type</c> of an element without any namespace prefix, or null.</summary>
    public static string? XsiType(this XElement element)
    {
        var type = (string?)element.Attribute(Xsi + "type");
        if (type is null)
        {
            return null;
        }

        var colon = type.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? type : type[(colon + 1)..];
    }
}
