using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Libvirt.Xml;

/// <summary>XML reading and writing settings for everything the driver exchanges with libvirt.</summary>
internal static class SafeXml
{
    /// <summary>The largest document the driver reads from libvirt (capabilities of big hosts run to a few MB).</summary>
    public const long MaxDocumentChars = 32L * 1024 * 1024;

    private static readonly XmlReaderSettings ReaderSettings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = MaxDocumentChars,
        MaxCharactersFromEntities = 0,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
    };

    private static readonly XmlWriterSettings WriterSettings = new()
    {
        OmitXmlDeclaration = true,
        Indent = false,
        CheckCharacters = true,
        Encoding = new UTF8Encoding(false),
    };

    /// <summary>Parses <paramref name="xml"/> with DTDs prohibited and the size bounded.</summary>
    /// <exception cref="XmlException">The text is not well-formed, holds a DTD, or is too large.</exception>
    public static XDocument Parse(string xml)
    {
        using var text = new StringReader(xml);
        using var reader = XmlReader.Create(text, ReaderSettings);
        return XDocument.Load(reader, LoadOptions.None);
    }

    /// <summary>Writes an element tree with an <see cref="XmlWriter"/>, which escapes every name and value.</summary>
    /// <exception cref="ArgumentException">A value holds a character XML cannot carry.</exception>
    public static string Write(Action<XmlWriter> write)
    {
        var builder = new StringBuilder(1024);
        using (var writer = XmlWriter.Create(builder, WriterSettings))
        {
            write(writer);
        }

        return builder.ToString();
    }

    /// <summary>
    /// Writes like <see cref="Write(Action{XmlWriter})"/>, straight into NUL-terminated UTF-8, the form libvirt takes:
    /// no UTF-16 string in between and no second conversion when the text is passed in.
    /// </summary>
    /// <returns>The document's bytes, its last byte the terminating NUL.</returns>
    /// <exception cref="ArgumentException">A value holds a character XML cannot carry.</exception>
    public static ArraySegment<byte> WriteUtf8(Action<XmlWriter> write)
    {
        var stream = new MemoryStream(2048);
        using (var writer = XmlWriter.Create(stream, WriterSettings))
        {
            write(writer);
        }

        stream.WriteByte(0);
        return new ArraySegment<byte>(stream.GetBuffer(), 0, (int)stream.Length);
    }

    /// <summary>Serializes an element tree.</summary>
    public static string Write(XElement element) => Write(element.WriteTo);
}
