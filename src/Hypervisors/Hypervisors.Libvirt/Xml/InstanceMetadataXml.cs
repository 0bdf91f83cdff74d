using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Libvirt.Xml;

/// <summary>
/// The driver's element inside a domain's <c>&lt;metadata&gt;</c>, in its own namespace, holding an
/// <see cref="InstanceRecord"/>. libvirt keeps it with the domain definition, so it survives daemon restarts and
/// is visible to every driver instance on the host.
/// </summary>
internal static class InstanceMetadataXml
{
    /// <summary>The namespace of the element (its URI is what <c>virDomainGetMetadata</c> is asked for).</summary>
    public const string NamespaceUri = "https://github.com/hypervisors-sdk/libvirt/instance/1";

    /// <summary>The prefix libvirt stores the element under.</summary>
    public const string Prefix = "hv";

    /// <summary>The element's local name.</summary>
    public const string ElementName = "instance";

    /// <summary>The child holding the spec as <see cref="InstanceSpecEnvelope"/> text.</summary>
    public const string SpecElement = "spec";

    /// <summary>
    /// Writes the metadata element for <paramref name="record"/>: in the driver's namespace inside a domain
    /// definition, or unqualified for <c>virDomainSetMetadata</c>, which puts the element into the namespace itself
    /// (and refuses an element that declares one).
    /// </summary>
    public static void Write(XmlWriter writer, InstanceRecord record, bool qualified = true)
    {
        var prefix = qualified ? Prefix : null;
        var ns = qualified ? NamespaceUri : null;
        writer.WriteStartElement(prefix, ElementName, ns);

        // The spec in the SDK's one stored form; equality of a repeated create is InstanceSpec.Equals on it.
        writer.WriteElementString(prefix, SpecElement, ns, InstanceSpecEnvelope.Serialize(record.Spec));
        if (record.InstanceDirectory is not null)
        {
            writer.WriteElementString(prefix, "directory", ns, record.InstanceDirectory);
        }

        if (record.ConsoleLogPath is not null)
        {
            writer.WriteElementString(prefix, "console", ns, record.ConsoleLogPath);
        }

        foreach (var path in record.DiskPaths)
        {
            writer.WriteStartElement(prefix, "disk", ns);
            writer.WriteAttributeString("path", path);
            writer.WriteEndElement();
        }

        foreach (var volume in record.Volumes)
        {
            writer.WriteStartElement(prefix, "volume", ns);
            writer.WriteAttributeString("id", volume.VolumeId);
            writer.WriteAttributeString("source", volume.Source);
            writer.WriteAttributeString("device", volume.Device);
            writer.WriteAttributeString("readonly", volume.ReadOnly ? "true" : "false");
            writer.WriteEndElement();
        }

        writer.WriteEndElement();
    }

    /// <summary>The metadata element as text, for <c>virDomainSetMetadata</c>.</summary>
    public static string ToXml(InstanceRecord record) => SafeXml.Write(writer => Write(writer, record, qualified: false));

    /// <summary>Reads a record from the element text <c>virDomainGetMetadata</c> returned.</summary>
    /// <exception cref="FormatException">The element is not one this driver wrote.</exception>
    public static InstanceRecord Parse(Guid id, string xml)
    {
        XElement root;
        try
        {
            root = SafeXml.Parse(xml).Root ?? throw new FormatException("The instance metadata is empty.");
        }
        catch (XmlException ex)
        {
            throw new FormatException("The instance metadata is not well-formed XML.", ex);
        }

        return FromElement(id, root);
    }

    /// <summary>Reads a record from the metadata element.</summary>
    /// <exception cref="FormatException">The element is not one this driver wrote.</exception>
    public static InstanceRecord FromElement(Guid id, XElement root)
    {
        if (root.Name.LocalName != ElementName)
        {
            throw new FormatException($"Expected <{ElementName}>, found {root.Name}.");
        }

        var envelope = Children(root, SpecElement).FirstOrDefault()?.Value ?? throw new FormatException($"The instance metadata has no <{SpecElement}>.");
        var spec = InstanceSpecEnvelope.Deserialize(envelope);
        if (spec.Id != id)
        {
            throw new FormatException($"The instance metadata holds the spec of {spec.Id}, not of {id}.");
        }

        var paths = Children(root, "disk").Select(d => d.Attribute("path")?.Value).OfType<string>().ToList();
        var volumes = Children(root, "volume")
            .Select(e => new VolumeAttachment(
                e.Attribute("id")?.Value ?? string.Empty,
                e.Attribute("source")?.Value ?? string.Empty,
                e.Attribute("device")?.Value ?? string.Empty,
                string.Equals(e.Attribute("readonly")?.Value, "true", StringComparison.OrdinalIgnoreCase)))
            .ToList();
        return new InstanceRecord(spec, Children(root, "directory").FirstOrDefault()?.Value, Children(root, "console").FirstOrDefault()?.Value, paths, volumes);
    }

    // Children are matched by local name: inside a domain definition they carry the driver's namespace, after
    // virDomainSetMetadata only the root does.
    private static IEnumerable<XElement> Children(XElement root, string name) => root.Elements().Where(e => e.Name.LocalName == name);
}
