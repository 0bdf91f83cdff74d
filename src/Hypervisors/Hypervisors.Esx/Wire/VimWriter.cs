using System.Globalization;
using System.Text;
using System.Xml;

namespace Hypervisors.Esx.Wire;

/// <summary>
/// Writes a vim25 SOAP request with <see cref="XmlWriter"/>, so every value is escaped by the writer and never
/// spliced into markup. Elements must be written in the WSDL's sequence order (real vSphere checks it).
/// </summary>
internal sealed class VimWriter : IDisposable
{
    /// <summary>The vim25 namespace.</summary>
    public const string VimNamespace = "urn:vim25";

    private const string SoapNamespace = "http://schemas.xmlsoap.org/soap/envelope/";
    private const string XsiNamespace = "http://www.w3.org/2001/XMLSchema-instance";
    private const string XsdNamespace = "http://www.w3.org/2001/XMLSchema";

    private static readonly XmlWriterSettings Settings = new()
    {
        Encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        CheckCharacters = true,
        Indent = false,
        CloseOutput = false,
    };

    private readonly MemoryStream _buffer = new();
    private readonly XmlWriter _xml;

    private VimWriter(string method, ManagedObjectReference target)
    {
        _xml = XmlWriter.Create(_buffer, Settings);
        _xml.WriteStartDocument();
        _xml.WriteStartElement("soapenv", "Envelope", SoapNamespace);
        _xml.WriteAttributeString("xmlns", "xsi", null, XsiNamespace);
        _xml.WriteAttributeString("xmlns", "xsd", null, XsdNamespace);
        _xml.WriteStartElement("Body", SoapNamespace);
        _xml.WriteStartElement(method, VimNamespace);
        Ref("_this", target);
    }

    /// <summary>Builds the envelope of <paramref name="method"/> on <paramref name="target"/> with its parameters.</summary>
    public static byte[] Build(string method, ManagedObjectReference target, Action<VimWriter>? parameters)
    {
        using var writer = new VimWriter(method, target);
        parameters?.Invoke(writer);
        return writer.Finish();
    }

    /// <summary>Writes <c>&lt;name&gt;value&lt;/name&gt;</c>.</summary>
    public VimWriter Element(string name, string value)
    {
        _xml.WriteElementString(name, VimNamespace, value);
        return this;
    }

    /// <summary>Writes an integer element.</summary>
    public VimWriter Element(string name, long value) => Element(name, value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Writes a boolean element.</summary>
    public VimWriter Element(string name, bool value) => Element(name, value ? "true" : "false");

    /// <summary>Writes a managed object reference: <c>&lt;name type="T"&gt;id&lt;/name&gt;</c>.</summary>
    public VimWriter Ref(string name, ManagedObjectReference reference)
    {
        _xml.WriteStartElement(name, VimNamespace);
        _xml.WriteAttributeString("type", reference.Type);
        _xml.WriteString(reference.Value);
        _xml.WriteEndElement();
        return this;
    }

    /// <summary>Opens an element, with an <c>xsi:type</c> when the WSDL declares a base type there.</summary>
    public VimWriter Start(string name, string? xsiType = null)
    {
        _xml.WriteStartElement(name, VimNamespace);
        if (xsiType is not null)
        {
            _xml.WriteAttributeString("type", XsiNamespace, xsiType);
        }

        return this;
    }

    /// <summary>Closes the innermost open element.</summary>
    public VimWriter End()
    {
        _xml.WriteEndElement();
        return this;
    }

    /// <summary>Writes an <c>xsd:string</c> value of an <c>anyType</c> field (an option value, for example).</summary>
    public VimWriter StringValue(string name, string value)
    {
        _xml.WriteStartElement(name, VimNamespace);
        _xml.WriteAttributeString("type", XsiNamespace, "xsd:string");
        _xml.WriteString(value);
        _xml.WriteEndElement();
        return this;
    }

    /// <summary>Copies an element the server sent (a device to remove) into the request unchanged.</summary>
    public VimWriter Raw(System.Xml.Linq.XElement element)
    {
        ArgumentNullException.ThrowIfNull(element);
        element.WriteTo(_xml);
        return this;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _xml.Dispose();
        _buffer.Dispose();
    }

    private byte[] Finish()
    {
        _xml.WriteEndElement();
        _xml.WriteEndElement();
        _xml.WriteEndElement();
        _xml.WriteEndDocument();
        _xml.Flush();
        return _buffer.ToArray();
    }
}
