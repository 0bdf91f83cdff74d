using System.Collections;
using System.Globalization;
using System.Text;
using System.Xml;

namespace Hypervisors.Xen.Wire;

/// <summary>
/// Writes XML-RPC calls and responses with <see cref="XmlWriter"/>, in the form xapi itself writes: no
/// whitespace, strings as bare <c>&lt;value&gt;</c> text, 64-bit integers as decimal strings (XenAPI's
/// convention), <see cref="int"/> as <c>&lt;i4&gt;</c>, times as <c>20240101T12:00:00Z</c>.
/// </summary>
internal static class XmlRpcWriter
{
    private const string Declaration = "<?xml version=\"1.0\"?>";

    private static readonly XmlWriterSettings Settings = new()
    {
        Encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        OmitXmlDeclaration = true,
        Indent = false,
        NewLineHandling = NewLineHandling.Entitize,
        CloseOutput = false,
        ConformanceLevel = ConformanceLevel.Document,
    };

    /// <summary>Writes a <c>methodCall</c>.</summary>
    public static void WriteCall(Stream output, string methodName, IReadOnlyList<object?> parameters)
    {
        ArgumentNullException.ThrowIfNull(methodName);
        ArgumentNullException.ThrowIfNull(parameters);
        Write(output, writer =>
        {
            writer.WriteStartElement("methodCall");
            writer.WriteElementString("methodName", methodName);
            writer.WriteStartElement("params");
            foreach (var parameter in parameters)
            {
                writer.WriteStartElement("param");
                WriteValue(writer, parameter, 0);
                writer.WriteEndElement();
            }

            writer.WriteEndElement();
            writer.WriteEndElement();
        });
    }

    /// <summary>Writes a <c>methodResponse</c> holding <paramref name="value"/> (for XenAPI, the envelope struct).</summary>
    public static void WriteResponse(Stream output, object? value) => Write(output, writer =>
    {
        writer.WriteStartElement("methodResponse");
        writer.WriteStartElement("params");
        writer.WriteStartElement("param");
        WriteValue(writer, value, 0);
        writer.WriteEndElement();
        writer.WriteEndElement();
        writer.WriteEndElement();
    });

    /// <summary>Writes a <c>methodResponse</c> with a <c>fault</c>.</summary>
    public static void WriteFault(Stream output, int faultCode, string faultString) => Write(output, writer =>
    {
        writer.WriteStartElement("methodResponse");
        writer.WriteStartElement("fault");
        WriteValue(writer, new Dictionary<string, object?>(StringComparer.Ordinal) { ["faultCode"] = faultCode, ["faultString"] = faultString }, 0);
        writer.WriteEndElement();
        writer.WriteEndElement();
    });

    /// <summary>Encodes a call to bytes.</summary>
    public static byte[] EncodeCall(string methodName, IReadOnlyList<object?> parameters)
    {
        using var buffer = new MemoryStream();
        WriteCall(buffer, methodName, parameters);
        return buffer.ToArray();
    }

    /// <summary>Encodes one value (as <c>&lt;value&gt;...&lt;/value&gt;</c>) to a string, as XenAPI keeps a task's result.</summary>
    public static string EncodeValue(object? value)
    {
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true, ConformanceLevel = ConformanceLevel.Fragment, NewLineHandling = NewLineHandling.Entitize }))
        {
            WriteValue(writer, value, 0);
        }

        return text.ToString();
    }

    private static void Write(Stream output, Action<XmlWriter> body)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var writer = XmlWriter.Create(output, Settings);
        try
        {
            writer.WriteRaw(Declaration);
            body(writer);
        }
        catch (ArgumentException ex)
        {
            throw new XenApiProtocolException("a value cannot be written as XML: " + ex.Message, ex);
        }
    }

    private static void WriteValue(XmlWriter writer, object? value, int depth)
    {
        if (depth > 256)
        {
            throw new XenApiProtocolException("a value is nested more than 256 levels deep.");
        }

        writer.WriteStartElement("value");
        switch (value)
        {
            case null:
                writer.WriteRaw("<nil/>");
                break;
            case string s:
                writer.WriteString(s);
                break;
            case bool b:
                writer.WriteElementString("boolean", b ? "1" : "0");
                break;
            case int i:
                writer.WriteElementString("i4", i.ToString(CultureInfo.InvariantCulture));
                break;
            case long l:
                writer.WriteString(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                writer.WriteElementString("double", d.ToString("R", CultureInfo.InvariantCulture));
                break;
            case DateTime t:
                writer.WriteElementString("dateTime.iso8601", XenValue.FormatDateTime(t));
                break;
            case DateTimeOffset t:
                writer.WriteElementString("dateTime.iso8601", XenValue.FormatDateTime(t.UtcDateTime));
                break;
            case byte[] bytes:
                writer.WriteElementString("base64", Convert.ToBase64String(bytes));
                break;
            case Enum e:
                writer.WriteString(e.ToString());
                break;
            case IDictionary map:
                writer.WriteStartElement("struct");
                foreach (DictionaryEntry entry in map)
                {
                    writer.WriteStartElement("member");
                    writer.WriteElementString("name", Convert.ToString(entry.Key, CultureInfo.InvariantCulture));
                    WriteValue(writer, entry.Value, depth + 1);
                    writer.WriteEndElement();
                }

                writer.WriteFullEndElement();
                break;
            case IEnumerable items:
                writer.WriteStartElement("array");
                writer.WriteStartElement("data");
                foreach (var item in items)
                {
                    WriteValue(writer, item, depth + 1);
                }

                writer.WriteFullEndElement();
                writer.WriteFullEndElement();
                break;
            default:
                throw new XenApiProtocolException($"a {value.GetType().Name} cannot be written as an XML-RPC value.");
        }

        writer.WriteFullEndElement();
    }
}
