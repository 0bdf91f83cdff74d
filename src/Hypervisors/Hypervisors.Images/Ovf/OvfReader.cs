using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Images.Ovf;

/// <summary>Limits and choices for <see cref="OvfReader"/>.</summary>
public sealed class OvfReadOptions
{
    /// <summary>The deployment option to read the hardware for; null takes the descriptor's default (or its first).</summary>
    public string? DeploymentOption { get; init; }

    /// <summary>The largest descriptor accepted, in characters.</summary>
    public long MaxDescriptorCharacters { get; init; } = 16L << 20;

    /// <summary>The largest disk capacity accepted, in bytes (default 512 GiB).</summary>
    public long MaxDiskBytes { get; init; } = 512L << 30;
}

/// <summary>
/// Reads OVF descriptors (DMTF DSP0243 1.x and 2.x): References, DiskSection, NetworkSection,
/// DeploymentOptionSection, VirtualSystem and VirtualSystemCollection, VirtualHardwareSection items by RASD
/// ResourceType, ProductSection properties. A DTD is refused (so no entity expansion); vendor extensions and unknown
/// sections are ignored with a warning; every error is an <see cref="OvfFormatException"/> naming the element and its line.
/// </summary>
public static partial class OvfReader
{
    private const string Ovf1 = "http://schemas.dmtf.org/ovf/envelope/1";
    private const string Ovf2 = "http://schemas.dmtf.org/ovf/envelope/2";

    private static readonly HashSet<string> KnownEnvelopeChildren = new(StringComparer.Ordinal)
    {
        "References", "DiskSection", "NetworkSection", "DeploymentOptionSection", "VirtualSystem", "VirtualSystemCollection", "Info", "Strings",
    };

    private static readonly HashSet<string> IgnoredQuietly = new(StringComparer.Ordinal)
    {
        "Info", "Name", "OperatingSystemSection", "AnnotationSection", "EulaSection", "StartupSection", "InstallSection", "ResourceAllocationSection", "Description",
    };

    /// <summary>Reads the descriptor in <paramref name="stream"/>.</summary>
    public static OvfEnvelope Read(Stream stream, OvfReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new OvfReadOptions();
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = options.MaxDescriptorCharacters,
            MaxCharactersFromEntities = 0,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        // Descriptors are small: read whole (bounded) so an error the XML reader reports without a position (a
        // prohibited DTD) can still name its line.
        var text = ReadBounded(stream, options.MaxDescriptorCharacters);
        XDocument document;
        using var reader = XmlReader.Create(new StringReader(text), settings);
        try
        {
            document = XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException ex)
        {
            var doctype = text.IndexOf("<!DOCTYPE", StringComparison.Ordinal);
            var dtd = doctype >= 0 && (ex.Message.Contains("DTD", StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("DOCTYPE", StringComparison.OrdinalIgnoreCase));
            var line = dtd ? text.AsSpan(0, doctype).Count('\n') + 1 : ex.LineNumber;
            throw new OvfFormatException(dtd ? "!DOCTYPE" : "xml", line, dtd ? "a DTD is not allowed in an OVF descriptor." : ex.Message, ex);
        }

        return new Parser(options).Envelope(document.Root!);
    }

    private static string ReadBounded(Stream stream, long maxCharacters)
    {
        using var reader = new StreamReader(stream, leaveOpen: true);
        var buffer = new char[81920];
        var text = new System.Text.StringBuilder();
        int read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            text.Append(buffer, 0, read);
            if (text.Length > maxCharacters)
            {
                throw new OvfFormatException("Envelope", 0, $"the descriptor is longer than {maxCharacters} characters.");
            }
        }

        return text.ToString();
    }

    [GeneratedRegex(@"^byte(\*(\d+)\^(\d+)|\*(\d+))?$", RegexOptions.CultureInvariant)]
    private static partial Regex AllocationUnitsPattern();

    /// <summary>The bytes one unit of <paramref name="units"/> is ("byte * 2^20" is 1048576), or null when not understood.</summary>
    public static long? BytesPerUnit(string? units)
    {
        if (string.IsNullOrWhiteSpace(units))
        {
            return 1;
        }

        var compact = string.Concat(units.Where(c => !char.IsWhiteSpace(c))).ToLowerInvariant();
        switch (compact)
        {
            case "kilobytes" or "kb":
                return 1L << 10;
            case "megabytes" or "mb":
                return 1L << 20;
            case "gigabytes" or "gb":
                return 1L << 30;
        }

        var match = AllocationUnitsPattern().Match(compact);
        if (!match.Success)
        {
            return null;
        }

        try
        {
            if (match.Groups[2].Success)
            {
                var result = 1L;
                var b = long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                var e = int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
                for (var i = 0; i < e; i++)
                {
                    result = checked(result * b);
                }

                return result;
            }

            return match.Groups[4].Success ? long.Parse(match.Groups[4].Value, CultureInfo.InvariantCulture) : 1;
        }
        catch (Exception ex) when (ex is OverflowException or FormatException)
        {
            return null;
        }
    }

    private sealed class Parser(OvfReadOptions options)
    {
        private readonly List<string> _warnings = [];
        private XNamespace _ovf = Ovf1;

        public OvfEnvelope Envelope(XElement root)
        {
            if (root.Name.LocalName != "Envelope" || (root.Name.NamespaceName != Ovf1 && root.Name.NamespaceName != Ovf2))
            {
                throw Fail(root, $"the root must be an OVF Envelope in {Ovf1} or {Ovf2}.");
            }

            _ovf = root.Name.Namespace;
            var files = Section(root, "References")?.Elements(_ovf + "File").Select(FileOf).ToList() ?? [];
            Unique(files.Select(f => (f.Id, Element: (XElement?)null)), root, "File ids");
            var disks = Section(root, "DiskSection")?.Elements(_ovf + "Disk").Select(d => DiskOf(d, files)).ToList() ?? [];
            var networks = Section(root, "NetworkSection")?.Elements(_ovf + "Network").Select(n => Required(n, "name")).ToList() ?? [];
            var optionSection = Section(root, "DeploymentOptionSection");
            var deploymentOptions = optionSection?.Elements(_ovf + "Configuration")
                .Select(c => new OvfDeploymentOption(Required(c, "id"), c.Element(_ovf + "Label")?.Value, Flag(c, "default"))).ToList() ?? [];
            string? selected = null;
            if (options.DeploymentOption is { } wanted)
            {
                selected = deploymentOptions.Any(o => o.Id == wanted)
                    ? wanted
                    : throw Fail(optionSection ?? root, $"there is no deployment option '{wanted}'; the descriptor has {(deploymentOptions.Count == 0 ? "none" : string.Join(", ", deploymentOptions.Select(o => o.Id)))}.");
            }
            else if (deploymentOptions.Count > 0)
            {
                selected = (deploymentOptions.FirstOrDefault(o => o.IsDefault) ?? deploymentOptions[0]).Id;
            }

            foreach (var child in root.Elements())
            {
                WarnIfUnknown(child, KnownEnvelopeChildren);
            }

            var content = root.Elements().Where(e => e.Name == _ovf + "VirtualSystem" || e.Name == _ovf + "VirtualSystemCollection").ToList();
            if (content.Count != 1)
            {
                throw Fail(root, $"an Envelope holds exactly one VirtualSystem or VirtualSystemCollection; this one holds {content.Count}.");
            }

            var systems = new List<OvfVirtualSystem>();
            Content(content[0], null, disks, selected, systems);
            Unique(systems.Select(s => (s.Id, Element: (XElement?)null)), content[0], "VirtualSystem ids");
            return new OvfEnvelope
            {
                Version = _ovf == Ovf1 ? "1" : "2",
                Files = files,
                Disks = disks,
                Networks = networks,
                DeploymentOptions = deploymentOptions,
                SelectedDeploymentOption = selected,
                VirtualSystems = systems,
                Warnings = _warnings,
            };
        }

        private void Content(XElement element, string? collectionId, List<OvfDisk> disks, string? selected, List<OvfVirtualSystem> systems)
        {
            var id = Required(element, "id");
            if (element.Name.LocalName == "VirtualSystemCollection")
            {
                foreach (var child in element.Elements())
                {
                    if (child.Name == _ovf + "VirtualSystem" || child.Name == _ovf + "VirtualSystemCollection")
                    {
                        Content(child, id, disks, selected, systems);
                    }
                    else
                    {
                        WarnIfUnknown(child, IgnoredQuietly, alsoKnown: "ProductSection");
                    }
                }

                return;
            }

            systems.Add(VirtualSystem(element, id, collectionId, disks, selected));
        }

        private OvfVirtualSystem VirtualSystem(XElement element, string id, string? collectionId, List<OvfDisk> disks, string? selected)
        {
            var hardware = element.Elements(_ovf + "VirtualHardwareSection").ToList();
            if (hardware.Count == 0)
            {
                throw Fail(element, "a VirtualSystem needs a VirtualHardwareSection.");
            }

            foreach (var extra in hardware.Skip(1))
            {
                Warn(extra, "only the first VirtualHardwareSection is used");
            }

            foreach (var child in element.Elements())
            {
                WarnIfUnknown(child, IgnoredQuietly, alsoKnown: "VirtualHardwareSection", alsoKnown2: "ProductSection");
            }

            var vcpus = 0;
            long memoryMiB = 0;
            List<OvfNetworkAdapter> nics = [];
            List<OvfDiskDrive> drives = [];
            List<OvfController> controllers = [];
            List<OvfRemovableDrive> removable = [];
            foreach (var item in hardware[0].Elements())
            {
                if (item.Name.LocalName is not ("Item" or "EthernetPortItem" or "StorageItem"))
                {
                    WarnIfUnknown(item, new HashSet<string>(StringComparer.Ordinal) { "Info", "System" });
                    continue;
                }

                if (item.Attribute(_ovf + "configuration") is { } configuration
                    && !configuration.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(selected, StringComparer.Ordinal))
                {
                    continue;
                }

                var typeText = Rasd(item, "ResourceType") ?? throw Fail(item, "an item needs a ResourceType.");
                if (!int.TryParse(typeText, NumberStyles.None, CultureInfo.InvariantCulture, out var type))
                {
                    throw Fail(item, $"ResourceType '{typeText}' is not a number.");
                }

                var instanceId = Rasd(item, "InstanceID") ?? throw Fail(item, "an item needs an InstanceID.");
                switch (type)
                {
                    case 3:
                        vcpus = checked((int)Quantity(item, 1, 4096));
                        break;
                    case 4:
                        var units = Rasd(item, "AllocationUnits");
                        var perUnit = BytesPerUnit(units) ?? throw Fail(item, $"AllocationUnits '{units}' are not understood.");
                        var bytes = Quantity(item, 1, long.MaxValue / perUnit) * perUnit;
                        memoryMiB = bytes / (1024 * 1024);
                        if (memoryMiB < 1)
                        {
                            throw Fail(item, $"the memory ({bytes} bytes) is less than 1 MiB.");
                        }

                        break;
                    case 10:
                        var connection = Rasd(item, "Connection");
                        if (connection is not null && !string.IsNullOrEmpty(connection) && Section(item.Document!.Root!, "NetworkSection") is { } section
                            && !section.Elements(_ovf + "Network").Any(n => n.Attribute(_ovf + "name")?.Value == connection))
                        {
                            throw Fail(item, $"the Connection '{connection}' is not a network of the NetworkSection.");
                        }

                        nics.Add(new OvfNetworkAdapter(instanceId, connection, Rasd(item, "ResourceSubType"), Rasd(item, "Address")));
                        break;
                    case 17:
                        var host = Rasd(item, "HostResource") ?? throw Fail(item, "a disk item needs a HostResource (ovf:/disk/<id>).");
                        var diskId = DiskIdOf(host) ?? throw Fail(item, $"HostResource '{host}' is not ovf:/disk/<id>.");
                        if (!disks.Any(d => d.DiskId == diskId))
                        {
                            throw Fail(item, $"HostResource '{host}' names no Disk of the DiskSection.");
                        }

                        drives.Add(new OvfDiskDrive(instanceId, diskId, Rasd(item, "Parent"), Rasd(item, "AddressOnParent")));
                        break;
                    case 5 or 6 or 20:
                        controllers.Add(new OvfController(instanceId, type, Rasd(item, "ResourceSubType")));
                        break;
                    case 14 or 15 or 16:
                        removable.Add(new OvfRemovableDrive(instanceId, type, Rasd(item, "HostResource")));
                        break;
                    default:
                        Warn(item, $"ResourceType {type} is ignored");
                        break;
                }
            }

            foreach (var drive in drives.Where(d => d.Parent is not null && !controllers.Any(c => c.InstanceId == d.Parent)))
            {
                throw Fail(hardware[0], $"disk item {drive.InstanceId} has the Parent '{drive.Parent}', which is no controller of this VirtualSystem.");
            }

            if (vcpus == 0 || memoryMiB == 0)
            {
                throw Fail(hardware[0], "a VirtualHardwareSection needs a processor item (ResourceType 3) and a memory item (ResourceType 4).");
            }

            return new OvfVirtualSystem
            {
                Id = id,
                Name = element.Element(_ovf + "Name")?.Value,
                CollectionId = collectionId,
                VCpus = vcpus,
                MemoryMiB = memoryMiB,
                NetworkAdapters = nics,
                DiskDrives = drives,
                Controllers = controllers,
                RemovableDrives = removable,
                Properties = [.. element.Elements(_ovf + "ProductSection").SelectMany(Properties)],
            };
        }

        private IEnumerable<OvfProperty> Properties(XElement product)
        {
            var prefix = product.Attribute(_ovf + "class")?.Value is { Length: > 0 } c ? c + "." : string.Empty;
            var suffix = product.Attribute(_ovf + "instance")?.Value is { Length: > 0 } i ? "." + i : string.Empty;
            foreach (var property in product.Descendants(_ovf + "Property"))
            {
                yield return new OvfProperty(prefix + Required(property, "key") + suffix, property.Attribute(_ovf + "type")?.Value,
                    property.Attribute(_ovf + "value")?.Value, Flag(property, "userConfigurable"));
            }
        }

        private OvfFile FileOf(XElement file)
        {
            var href = Required(file, "href");
            if (href.Length > 255 || href.Contains('/', StringComparison.Ordinal) || href.Contains('\\', StringComparison.Ordinal) || href is "." or ".." || href.Any(char.IsControl))
            {
                throw Fail(file, $"ovf:href '{href}' must name a file of the package, without folders.");
            }

            long? size = null;
            if (file.Attribute(_ovf + "size") is { } sizeAttribute)
            {
                size = long.TryParse(sizeAttribute.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var s)
                    ? s
                    : throw Fail(file, $"ovf:size '{sizeAttribute.Value}' is not a byte count.");
            }

            return new OvfFile(Required(file, "id"), href, size);
        }

        private OvfDisk DiskOf(XElement disk, List<OvfFile> files)
        {
            var id = Required(disk, "diskId");
            var capacityText = Required(disk, "capacity");
            if (!long.TryParse(capacityText, NumberStyles.None, CultureInfo.InvariantCulture, out var capacity) || capacity <= 0)
            {
                throw Fail(disk, $"ovf:capacity '{capacityText}' is not a positive number.");
            }

            var units = disk.Attribute(_ovf + "capacityAllocationUnits")?.Value;
            var perUnit = BytesPerUnit(units) ?? throw Fail(disk, $"ovf:capacityAllocationUnits '{units}' are not understood.");
            long bytes;
            try
            {
                bytes = checked(capacity * perUnit);
            }
            catch (OverflowException)
            {
                bytes = long.MaxValue;
            }

            if (bytes > options.MaxDiskBytes)
            {
                throw Fail(disk, $"disk '{id}' is declared at {bytes} bytes; the limit is {options.MaxDiskBytes}.");
            }

            var fileRef = disk.Attribute(_ovf + "fileRef")?.Value;
            if (fileRef is not null && !files.Any(f => f.Id == fileRef))
            {
                throw Fail(disk, $"ovf:fileRef '{fileRef}' names no File of the References section.");
            }

            return new OvfDisk(id, fileRef, bytes, disk.Attribute(_ovf + "format")?.Value);
        }

        private long Quantity(XElement item, long min, long max)
        {
            var text = Rasd(item, "VirtualQuantity") ?? throw Fail(item, "the item needs a VirtualQuantity.");
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : throw Fail(item, $"VirtualQuantity '{text}' is not a number from {min} to {max}.");
        }

        private static string? Rasd(XElement item, string localName) =>
            item.Elements().FirstOrDefault(e => e.Name.LocalName == localName)?.Value.Trim();

        private static string? DiskIdOf(string hostResource)
        {
            foreach (var prefix in new[] { "ovf:/disk/", "/disk/" })
            {
                if (hostResource.StartsWith(prefix, StringComparison.Ordinal) && hostResource.Length > prefix.Length)
                {
                    return hostResource[prefix.Length..];
                }
            }

            return null;
        }

        private XElement? Section(XElement root, string name)
        {
            var sections = root.Elements(_ovf + name).ToList();
            if (sections.Count > 1)
            {
                throw Fail(sections[1], $"the Envelope has more than one {name}.");
            }

            return sections.FirstOrDefault();
        }

        private string Required(XElement element, string attribute) =>
            element.Attribute(_ovf + attribute)?.Value is { Length: > 0 } value ? value : throw Fail(element, $"the ovf:{attribute} attribute is required.");

        private bool Flag(XElement element, string attribute) =>
            element.Attribute(_ovf + attribute)?.Value is { } value && (value == "true" || value == "1");

        private void Unique(IEnumerable<(string Id, XElement? Element)> ids, XElement where, string what)
        {
            var duplicate = ids.GroupBy(i => i.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw Fail(where, $"{what} must be unique; '{duplicate.Key}' repeats.");
            }
        }

        private void WarnIfUnknown(XElement element, HashSet<string> known, string? alsoKnown = null, string? alsoKnown2 = null)
        {
            var name = element.Name.LocalName;
            if (element.Name.Namespace != _ovf)
            {
                Warn(element, $"vendor extension {element.Name} is ignored");
            }
            else if (!known.Contains(name) && name != alsoKnown && name != alsoKnown2)
            {
                Warn(element, $"unknown section {name} is ignored");
            }
        }

        private void Warn(XElement element, string message) => _warnings.Add($"line {LineOf(element)}: {message}");

        private static int LineOf(XElement element) => element is IXmlLineInfo info && info.HasLineInfo() ? info.LineNumber : 0;

        private static OvfFormatException Fail(XElement element, string message) => new(element.Name.LocalName, LineOf(element), message);
    }
}
