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

    private static readonly XNamespace Ns = NamespaceUri;

    /// <summary>Writes the metadata element for <paramref name="record"/>.</summary>
    public static void Write(XmlWriter writer, InstanceRecord record)
    {
        var spec = record.Spec;
        writer.WriteStartElement(Prefix, ElementName, NamespaceUri);
        writer.WriteElementString(Prefix, "name", NamespaceUri, spec.Name);
        writer.WriteElementString(Prefix, "vcpus", NamespaceUri, spec.VCpus.ToString(CultureInfo.InvariantCulture));
        writer.WriteElementString(Prefix, "memoryMiB", NamespaceUri, spec.MemoryMiB.ToString(CultureInfo.InvariantCulture));
        writer.WriteElementString(Prefix, "startAfterCreate", NamespaceUri, spec.StartAfterCreate ? "true" : "false");
        if (record.InstanceDirectory is not null)
        {
            writer.WriteElementString(Prefix, "directory", NamespaceUri, record.InstanceDirectory);
        }

        if (record.ConsoleLogPath is not null)
        {
            writer.WriteElementString(Prefix, "console", NamespaceUri, record.ConsoleLogPath);
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i];
            writer.WriteStartElement(Prefix, "disk", NamespaceUri);
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
            writer.WriteStartElement(Prefix, "interface", NamespaceUri);
            writer.WriteAttributeString("network", nic.Network);
            if (nic.MacAddress is not null)
            {
                writer.WriteAttributeString("mac", nic.MacAddress);
            }

            writer.WriteEndElement();
        }

        if (spec.KernelBoot is { } boot)
        {
            writer.WriteStartElement(Prefix, "kernel", NamespaceUri);
            writer.WriteAttributeString("path", boot.KernelPath);
            writer.WriteAttributeString("cmdline", boot.CommandLine);
            if (boot.InitrdPath is not null)
            {
                writer.WriteAttributeString("initrd", boot.InitrdPath);
            }

            writer.WriteEndElement();
        }

        foreach (var (key, value) in spec.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.WriteStartElement(Prefix, "meta", NamespaceUri);
            writer.WriteAttributeString("key", key);
            writer.WriteString(value);
            writer.WriteEndElement();
        }

        foreach (var volume in record.Volumes)
        {
            writer.WriteStartElement(Prefix, "volume", NamespaceUri);
            writer.WriteAttributeString("id", volume.VolumeId);
            writer.WriteAttributeString("source", volume.Source);
            writer.WriteAttributeString("device", volume.Device);
            writer.WriteAttributeString("readonly", volume.ReadOnly ? "true" : "false");
            writer.WriteEndElement();
        }

        writer.WriteEndElement();
    }

    /// <summary>The metadata element as text, for <c>virDomainSetMetadata</c>.</summary>
    public static string ToXml(InstanceRecord record) => SafeXml.Write(writer => Write(writer, record));

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
        if (root.Name != Ns + ElementName)
        {
            throw new FormatException($"Expected <{ElementName}> in {NamespaceUri}, found {root.Name}.");
        }

        var disks = new List<DiskSpec>();
        var paths = new List<string>();
        foreach (var disk in root.Elements(Ns + "disk"))
        {
            disks.Add(new DiskSpec(ParseLong(disk.Attribute("sizeGiB")?.Value, "disk sizeGiB"), disk.Attribute("image")?.Value));
            if (disk.Attribute("path")?.Value is { } path)
            {
                paths.Add(path);
            }
        }

        var kernel = root.Element(Ns + "kernel");
        var spec = new InstanceSpec
        {
            Id = id,
            Name = Required(root, "name"),
            VCpus = (int)ParseLong(Required(root, "vcpus"), "vcpus"),
            MemoryMiB = ParseLong(Required(root, "memoryMiB"), "memoryMiB"),
            StartAfterCreate = string.Equals(root.Element(Ns + "startAfterCreate")?.Value, "true", StringComparison.OrdinalIgnoreCase),
            Disks = disks,
            NetworkInterfaces = [.. root.Elements(Ns + "interface").Select(e => new NetworkInterfaceSpec(e.Attribute("network")?.Value ?? string.Empty, e.Attribute("mac")?.Value))],
            KernelBoot = kernel is null
                ? null
                : new KernelBootSpec(kernel.Attribute("path")?.Value ?? string.Empty, kernel.Attribute("initrd")?.Value, kernel.Attribute("cmdline")?.Value ?? string.Empty),
            Metadata = root.Elements(Ns + "meta").ToDictionary(e => e.Attribute("key")?.Value ?? string.Empty, e => e.Value, StringComparer.Ordinal),
        };
        var volumes = root.Elements(Ns + "volume")
            .Select(e => new VolumeAttachment(
                e.Attribute("id")?.Value ?? string.Empty,
                e.Attribute("source")?.Value ?? string.Empty,
                e.Attribute("device")?.Value ?? string.Empty,
                string.Equals(e.Attribute("readonly")?.Value, "true", StringComparison.OrdinalIgnoreCase)))
            .ToList();
        return new InstanceRecord(spec, root.Element(Ns + "directory")?.Value, root.Element(Ns + "console")?.Value, paths, volumes);
    }

    private static string Required(XElement root, string name) =>
        root.Element(Ns + name)?.Value ?? throw new FormatException($"The instance metadata has no <{name}>.");

    private static long ParseLong(string? text, string what) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"The instance metadata's {what} '{text}' is not a number.");
}
