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

    /// <summary>The metadata element for <paramref name="record"/>.</summary>
    public static XElement ToElement(InstanceRecord record)
    {
        var spec = record.Spec;
        var root = new XElement(Ns + ElementName,
            new XAttribute(XNamespace.Xmlns + Prefix, NamespaceUri),
            new XElement(Ns + "name", spec.Name),
            new XElement(Ns + "vcpus", spec.VCpus),
            new XElement(Ns + "memoryMiB", spec.MemoryMiB),
            new XElement(Ns + "startAfterCreate", spec.StartAfterCreate));
        if (record.InstanceDirectory is not null)
        {
            root.Add(new XElement(Ns + "directory", record.InstanceDirectory));
        }

        if (record.ConsoleLogPath is not null)
        {
            root.Add(new XElement(Ns + "console", record.ConsoleLogPath));
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i];
            var element = new XElement(Ns + "disk", new XAttribute("sizeGiB", disk.SizeGiB));
            if (disk.ImageRef is not null)
            {
                element.Add(new XAttribute("image", disk.ImageRef));
            }

            if (i < record.DiskPaths.Count)
            {
                element.Add(new XAttribute("path", record.DiskPaths[i]));
            }

            root.Add(element);
        }

        foreach (var nic in spec.NetworkInterfaces)
        {
            var element = new XElement(Ns + "interface", new XAttribute("network", nic.Network));
            if (nic.MacAddress is not null)
            {
                element.Add(new XAttribute("mac", nic.MacAddress));
            }

            root.Add(element);
        }

        if (spec.KernelBoot is { } boot)
        {
            var element = new XElement(Ns + "kernel", new XAttribute("path", boot.KernelPath), new XAttribute("cmdline", boot.CommandLine));
            if (boot.InitrdPath is not null)
            {
                element.Add(new XAttribute("initrd", boot.InitrdPath));
            }

            root.Add(element);
        }

        foreach (var (key, value) in spec.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            root.Add(new XElement(Ns + "meta", new XAttribute("key", key), value));
        }

        foreach (var volume in record.Volumes)
        {
            root.Add(new XElement(Ns + "volume",
                new XAttribute("id", volume.VolumeId),
                new XAttribute("source", volume.Source),
                new XAttribute("device", volume.Device),
                new XAttribute("readonly", volume.ReadOnly)));
        }

        return root;
    }

    /// <summary>The metadata element as text, for <c>virDomainSetMetadata</c>.</summary>
    public static string ToXml(InstanceRecord record) => SafeXml.Write(ToElement(record));

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
