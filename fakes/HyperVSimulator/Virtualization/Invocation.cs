using System.Xml;
using HyperVSimulator.Cim;

namespace HyperVSimulator.Virtualization;

/// <summary>A failure the endpoint reports as a SOAP fault (with an MSFT_WmiError when <see cref="CimStatus"/> is set).</summary>
public sealed class WsManFaultException(string subcode, string reason, int? cimStatus = null) : Exception(reason)
{
    /// <summary>The subcode as prefix:name, with prefixes wsman, wsa or wsen.</summary>
    public string Subcode { get; } = subcode;

    public int? CimStatus { get; } = cimStatus;
}

/// <summary>A reference to an instance: its class and key values.</summary>
public sealed record CimReference(string ClassName, IReadOnlyList<KeyValuePair<string, string>> Keys)
{
    public static CimReference To(CimObject instance) =>
        new(instance.ClassName, CimSchema.KeysOf(instance.ClassName).Select(k => new KeyValuePair<string, string>(k, instance.GetString(k) ?? string.Empty)).ToList());

    public string? Key(string name) => Keys.FirstOrDefault(k => string.Equals(k.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>A method's ReturnValue and out parameters (strings, <see cref="CimReference"/>s or lists of them).</summary>
public sealed record MethodResult(uint ReturnValue, IReadOnlyList<KeyValuePair<string, object>> Outputs)
{
    public static MethodResult Code(uint returnValue) => new(returnValue, []);
}

/// <summary>A method's input parameters as they arrived: each a list of strings or <see cref="CimReference"/>s.</summary>
public sealed class MethodInput(IReadOnlyDictionary<string, List<object>> values)
{
    public string? Get(string name) => values.TryGetValue(name, out var v) ? v.OfType<string>().FirstOrDefault() : null;

    public IReadOnlyList<string> GetAll(string name) => values.TryGetValue(name, out var v) ? v.OfType<string>().ToList() : [];

    public CimReference? GetReference(string name) => values.TryGetValue(name, out var v) ? v.OfType<CimReference>().FirstOrDefault() : null;

    public IReadOnlyList<CimReference> GetReferences(string name) => values.TryGetValue(name, out var v) ? v.OfType<CimReference>().ToList() : [];

    /// <summary>Parses an embedded CIM-XML instance (DTDs refused, size bounded); a malformed one is a fault.</summary>
    public static CimObject ParseEmbedded(string text, string parameter)
    {
        try
        {
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersInDocument = 1024 * 1024 };
            using var reader = XmlReader.Create(new StringReader(text), settings);
            var element = System.Xml.Linq.XElement.Load(reader);
            var className = (string?)element.Attribute("CLASSNAME");
            if (element.Name.LocalName != "INSTANCE" || string.IsNullOrEmpty(className))
            {
                throw new WsManFaultException("wsman:InvalidParameter", $"{parameter} is not an embedded INSTANCE.", 4);
            }

            var instance = new CimObject(CimSchema.NamespaceOf(className), CimSchema.Canonical(className));
            foreach (var property in element.Elements())
            {
                var name = (string?)property.Attribute("NAME") ?? throw new WsManFaultException("wsman:InvalidParameter", $"{parameter} has a property without NAME.", 4);
                switch (property.Name.LocalName)
                {
                    case "PROPERTY":
                        instance[name] = property.Element("VALUE")?.Value;
                        break;
                    case "PROPERTY.ARRAY":
                        instance[name] = property.Element("VALUE.ARRAY")?.Elements("VALUE").Select(v => v.Value).ToList() ?? [];
                        break;
                    default:
                        throw new WsManFaultException("wsman:InvalidParameter", $"{parameter}: <{property.Name.LocalName}> is not supported.", 4);
                }
            }

            return instance;
        }
        catch (XmlException ex)
        {
            throw new WsManFaultException("wsman:InvalidParameter", $"{parameter} is not well-formed CIM-XML: {ex.Message}", 4);
        }
    }
}
