using System.Globalization;
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

    /// <summary>
    /// Writes the metadata element for <paramref name="record"/>: in the driver's namespace inside a domain
    /// definition, or unqualified for <c>virDomainSetMetadata</c>, which puts the element into the namespace itself
    /// (and refuses an element that declares one).
    /// </summary>
    public static void Write(XmlWriter writer, InstanceRecord record, bool qualified = true)
    {
        var spec = record.Spec;
        var prefix = qualified ? Prefix : null;
        var ns = qualified ? NamespaceUri : null;
        writer.WriteStartElement(prefix, ElementName, ns);
        writer.WriteElementString(prefix, "name", ns, spec.Name);
        writer.WriteElementString(prefix, "vcpus", ns, spec.VCpus.ToString(CultureInfo.InvariantCulture));
        writer.WriteElementString(prefix, "memoryMiB", ns, spec.MemoryMiB.ToString(CultureInfo.InvariantCulture));
        writer.WriteElementString(prefix, "startAfterCreate", ns, spec.StartAfterCreate ? "true" : "false");
        if (record.InstanceDirectory is not null)
        {
            writer.WriteElementString(prefix, "directory", ns, record.InstanceDirectory);
        }

        if (record.ConsoleLogPath is not null)
        {
            writer.WriteElementString(prefix, "console", ns, record.ConsoleLogPath);
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i];
            writer.WriteStartElement(prefix, "disk", ns);
            writer.WriteAttributeString("sizeGiB", disk.SizeGiB.ToString(CultureInfo.InvariantCulture));
            if (disk.ImageRef is not null)
            {
                writer.WriteAttributeString("image", disk.ImageRef);
            }

            if (i < record.DiskPaths.Count)
            {
                writer.WriteAttributeString("path", record.DiskPaths[i]);
            }

            writer.WriteEndElement();
        }

        foreach (var nic in spec.NetworkInterfaces)
        {
            writer.WriteStartElement(prefix, "interface", ns);
            writer.WriteAttributeString("network", nic.Network);
            if (nic.MacAddress is not null)
            {
                writer.WriteAttributeString("mac", nic.MacAddress);
            }

            writer.WriteEndElement();
        }

        if (spec.KernelBoot is { } boot)
        {
            writer.WriteStartElement(prefix, "kernel", ns);
            writer.WriteAttributeString("path", boot.KernelPath);
            writer.WriteAttributeString("cmdline", boot.CommandLine);
            if (boot.InitrdPath is not null)
            {
                writer.WriteAttributeString("initrd", boot.InitrdPath);
            }

            writer.WriteEndElement();
        }

        foreach (var (key, value) in spec.Metadata.Count == 0 ? Enumerable.Empty<KeyValuePair<string, string>>() : spec.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.WriteStartElement(prefix, "meta", ns);
            writer.WriteAttributeString("key", key);
            writer.WriteString(value);
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

        var disks = new List<DiskSpec>();
        var paths = new List<string>();
        foreach (var disk in Children(root, "disk"))
        {
            disks.Add(new DiskSpec(ParseLong(disk.Attribute("sizeGiB")?.Value, "disk sizeGiB"), disk.Attribute("image")?.Value));
            if (disk.Attribute("path")?.Value is { } path)
            {
                paths.Add(path);
            }
        }

        var kernel = Children(root, "kernel").FirstOrDefault();
        var spec = new InstanceSpec
        {
            Id = id,
            Name = Required(root, "name"),
            VCpus = (int)ParseLong(Required(root, "vcpus"), "vcpus"),
            MemoryMiB = ParseLong(Required(root, "memoryMiB"), "memoryMiB"),
            StartAfterCreate = string.Equals(Children(root, "startAfterCreate").FirstOrDefault()?.Value, "true", StringComparison.OrdinalIgnoreCase),
            Disks = disks,
            NetworkInterfaces = [.. Children(root, "interface").Select(e => new NetworkInterfaceSpec(e.Attribute("network")?.Value ?? string.Empty, e.Attribute("mac")?.Value))],
            KernelBoot = kernel is null
                ? null
                : new KernelBootSpec(kernel.Attribute("path")?.Value ?? string.Empty, kernel.Attribute("initrd")?.Value, kernel.Attribute("cmdline")?.Value ?? string.Empty),
            Metadata = Children(root, "meta").ToDictionary(e => e.Attribute("key")?.Value ?? string.Empty, e => e.Value, StringComparer.Ordinal),
        };
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

    private static string Required(XElement root, string name) =>
        Children(root, name).FirstOrDefault()?.Value ?? throw new FormatException($"The instance metadata has no <{name}>.");

    private static long ParseLong(string? text, string what) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"The instance metadata's {what} '{text}' is not a number.");
}
