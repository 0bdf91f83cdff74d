using System.Globalization;
using System.Text;
using System.Xml;

namespace Hypervisors.HyperV.Wire;

/// <summary>
/// An instance to pass as a method parameter, serialized as CIM-XML (DSP0201)
/// <c>&lt;INSTANCE CLASSNAME&gt;&lt;PROPERTY NAME TYPE&gt;&lt;VALUE&gt;</c>, the way WMI accepts embedded objects over WS-Man.
/// </summary>
internal sealed class EmbeddedInstance(string className)
{
    private readonly List<(string Name, string Type, IReadOnlyList<string> Values, bool IsArray)> _properties = [];

    /// <summary>The CIM class of the instance.</summary>
    public string ClassName { get; } = className;

    /// <summary>Adds a string property.</summary>
    public EmbeddedInstance Set(string name, string value) => Add(name, "string", [value], false);

    /// <summary>Adds an unsigned 64-bit property.</summary>
    public EmbeddedInstance Set(string name, ulong value) => Add(name, "uint64", [value.ToString(CultureInfo.InvariantCulture)], false);

    /// <summary>Adds an unsigned 16-bit property.</summary>
    public EmbeddedInstance SetUInt16(string name, ushort value) => Add(name, "uint16", [value.ToString(CultureInfo.InvariantCulture)], false);

    /// <summary>Adds a boolean property.</summary>
    public EmbeddedInstance Set(string name, bool value) => Add(name, "boolean", [value ? "true" : "false"], false);

    /// <summary>Adds a string array property.</summary>
    public EmbeddedInstance SetArray(string name, IReadOnlyList<string> values) => Add(name, "string", values, true);

    /// <summary>Serializes to CIM-XML with an <see cref="XmlWriter"/> (values escaped by the writer).</summary>
    public string ToCimXml()
    {
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, new XmlWriterSettings { OmitXmlDeclaration = true, ConformanceLevel = ConformanceLevel.Fragment }))
        {
            writer.WriteStartElement("INSTANCE");
            writer.WriteAttributeString("CLASSNAME", ClassName);
            foreach (var (name, type, values, isArray) in _properties)
            {
                writer.WriteStartElement(isArray ? "PROPERTY.ARRAY" : "PROPERTY");
                writer.WriteAttributeString("NAME", name);
                writer.WriteAttributeString("TYPE", type);
                if (isArray)
                {
                    writer.WriteStartElement("VALUE.ARRAY");
                }

                foreach (var value in values)
                {
                    writer.WriteElementString("VALUE", value);
                }

                if (isArray)
                {
                    writer.WriteEndElement();
                }

                writer.WriteEndElement();
            }

            writer.WriteEndElement();
        }

        return text.ToString();
    }

    private EmbeddedInstance Add(string name, string type, IReadOnlyList<string> values, bool isArray)
    {
        _properties.Add((name, type, values, isArray));
        return this;
    }
}
