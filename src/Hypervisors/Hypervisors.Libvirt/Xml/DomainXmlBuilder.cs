using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Libvirt.Xml;

/// <summary>How domains are shaped beyond what the spec says.</summary>
/// <param name="DomainType">The <c>&lt;domain type&gt;</c>: "kvm", "qemu" or "test".</param>
/// <param name="Architecture">The guest architecture ("x86_64").</param>
/// <param name="MachineType">The machine type ("pc", "q35"), or null for libvirt's default.</param>
/// <param name="DiskBus">The bus of disks and volumes ("virtio").</param>
/// <param name="InterfaceModel">The NIC model ("virtio").</param>
internal sealed record DomainShape(string DomainType, string Architecture, string? MachineType, string DiskBus = "virtio", string InterfaceModel = "virtio");

/// <summary>
/// Builds domain and device XML from specs with <see cref="XElement"/> trees written by an XmlWriter, so names,
/// paths and metadata are always escaped and never parsed as markup.
/// </summary>
internal static class DomainXmlBuilder
{
    /// <summary>The prefix of a <see cref="NetworkInterfaceSpec.Network"/> that names a host bridge instead of a libvirt network.</summary>
    public const string BridgePrefix = "bridge:";

    /// <summary>The domain XML for <paramref name="record"/>, its metadata element included.</summary>
    public static string Build(InstanceRecord record, DomainShape shape) => SafeXml.Write(writer => Write(writer, record, shape));

    /// <summary>The same domain XML as <see cref="Build"/>, as the NUL-terminated UTF-8 <c>virDomainDefineXML</c> takes.</summary>
    public static ArraySegment<byte> BuildUtf8(InstanceRecord record, DomainShape shape) => SafeXml.WriteUtf8(writer => Write(writer, record, shape));

    private static void Write(XmlWriter writer, InstanceRecord record, DomainShape shape)
    {
        var spec = record.Spec;
        writer.WriteStartElement("domain");
        writer.WriteAttributeString("type", shape.DomainType);
        writer.WriteElementString("name", spec.Name);
        writer.WriteElementString("uuid", spec.Id.ToString("D"));
        writer.WriteStartElement("metadata");
        InstanceMetadataXml.Write(writer, record);
        writer.WriteEndElement();
        writer.WriteStartElement("memory");
        writer.WriteAttributeString("unit", "MiB");
        writer.WriteString(spec.MemoryMiB.ToString(CultureInfo.InvariantCulture));
        writer.WriteEndElement();
        writer.WriteElementString("vcpu", spec.VCpus.ToString(CultureInfo.InvariantCulture));

        writer.WriteStartElement("os");
        writer.WriteStartElement("type");
        writer.WriteAttributeString("arch", shape.Architecture);
        if (shape.MachineType is not null)
        {
            writer.WriteAttributeString("machine", shape.MachineType);
        }

        writer.WriteString("hvm");
        writer.WriteEndElement();
        if (spec.KernelBoot is { } boot)
        {
            writer.WriteElementString("kernel", boot.KernelPath);
            if (boot.InitrdPath is not null)
            {
                writer.WriteElementString("initrd", boot.InitrdPath);
            }

            writer.WriteElementString("cmdline", boot.CommandLine);
        }
        else
        {
            writer.WriteStartElement("boot");
            writer.WriteAttributeString("dev", "hd");
            writer.WriteEndElement();
        }

        writer.WriteEndElement();
        writer.WriteStartElement("features");
        writer.WriteElementString("acpi", null);
        writer.WriteEndElement();
        writer.WriteElementString("on_poweroff", "destroy");
        writer.WriteElementString("on_reboot", "restart");
        writer.WriteElementString("on_crash", "destroy");

        writer.WriteStartElement("devices");
        for (var i = 0; i < spec.Disks.Count && i < record.DiskPaths.Count; i++)
        {
            DiskElement(record.DiskPaths[i], InstanceRecord.DeviceName(i), "qcow2", readOnly: false, shape.DiskBus).WriteTo(writer);
        }

        foreach (var volume in record.Volumes)
        {
            VolumeElement(volume, shape).WriteTo(writer);
        }

        foreach (var nic in spec.NetworkInterfaces)
        {
            InterfaceElement(nic.Network, nic.MacAddress is null ? null : InstanceSpecValidator.NormalizeMac(nic.MacAddress), shape).WriteTo(writer);
        }

        if (record.ConsoleLogPath is not null)
        {
            new XElement("serial",
                new XAttribute("type", "file"),
                new XElement("source", new XAttribute("path", record.ConsoleLogPath), new XAttribute("append", "on")),
                new XElement("target", new XAttribute("port", 0))).WriteTo(writer);
        }

        writer.WriteEndElement();
        writer.WriteEndElement();
    }

    /// <summary>The device XML for an attached volume.</summary>
    public static string BuildVolume(VolumeAttachment volume, DomainShape shape) => SafeXml.Write(VolumeElement(volume, shape));

    /// <summary>The device XML for a network interface with a known MAC address.</summary>
    public static string BuildInterface(string network, string macAddress, DomainShape shape) =>
        SafeXml.Write(InterfaceElement(network, macAddress, shape));

    /// <summary>The XML of a snapshot named <paramref name="snapshotName"/> that records the caller's <paramref name="displayName"/>.</summary>
    public static string BuildSnapshot(string snapshotName, string displayName) =>
        SafeXml.Write(new XElement("domainsnapshot", new XElement("name", snapshotName), new XElement("description", displayName)));

    private static XElement VolumeElement(VolumeAttachment volume, DomainShape shape)
    {
        var format = volume.Source.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase) ? "qcow2" : "raw";
        return DiskElement(volume.Source, volume.Device, format, volume.ReadOnly, shape.DiskBus);
    }

    private static XElement DiskElement(string path, string device, string format, bool readOnly, string bus)
    {
        var isBlockDevice = path.StartsWith("/dev/", StringComparison.Ordinal);
        var disk = new XElement("disk",
            new XAttribute("type", isBlockDevice ? "block" : "file"),
            new XAttribute("device", "disk"),
            new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", format)),
            new XElement("source", new XAttribute(isBlockDevice ? "dev" : "file", path)),
            new XElement("target", new XAttribute("dev", device), new XAttribute("bus", bus)));
        if (readOnly)
        {
            disk.Add(new XElement("readonly"));
        }

        return disk;
    }

    private static XElement InterfaceElement(string network, string? macAddress, DomainShape shape)
    {
        var isBridge = network.StartsWith(BridgePrefix, StringComparison.Ordinal);
        var nic = new XElement("interface", new XAttribute("type", isBridge ? "bridge" : "network"));
        if (macAddress is not null)
        {
            nic.Add(new XElement("mac", new XAttribute("address", macAddress)));
        }

        nic.Add(new XElement("source", new XAttribute(isBridge ? "bridge" : "network", isBridge ? network[BridgePrefix.Length..] : network)));
        nic.Add(new XElement("model", new XAttribute("type", shape.InterfaceModel)));
        return nic;
    }
}
