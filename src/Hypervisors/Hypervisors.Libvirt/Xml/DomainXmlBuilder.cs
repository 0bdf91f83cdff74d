using System.Globalization;
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
    public static string Build(InstanceRecord record, DomainShape shape)
    {
        var spec = record.Spec;
        var os = new XElement("os", TypeElement(shape));
        if (spec.KernelBoot is { } boot)
        {
            os.Add(new XElement("kernel", boot.KernelPath));
            if (boot.InitrdPath is not null)
            {
                os.Add(new XElement("initrd", boot.InitrdPath));
            }

            os.Add(new XElement("cmdline", boot.CommandLine));
        }
        else
        {
            os.Add(new XElement("boot", new XAttribute("dev", "hd")));
        }

        var devices = new XElement("devices");
        for (var i = 0; i < spec.Disks.Count && i < record.DiskPaths.Count; i++)
        {
            devices.Add(DiskElement(record.DiskPaths[i], InstanceRecord.DeviceName(i), "qcow2", readOnly: false, shape.DiskBus));
        }

        foreach (var volume in record.Volumes)
        {
            devices.Add(VolumeElement(volume, shape));
        }

        foreach (var nic in spec.NetworkInterfaces)
        {
            devices.Add(InterfaceElement(nic.Network, nic.MacAddress is null ? null : Hypervisors.InstanceSpecValidator.NormalizeMac(nic.MacAddress), shape));
        }

        if (record.ConsoleLogPath is not null)
        {
            devices.Add(new XElement("serial",
                new XAttribute("type", "file"),
                new XElement("source", new XAttribute("path", record.ConsoleLogPath), new XAttribute("append", "on")),
                new XElement("target", new XAttribute("port", 0))));
        }

        var domain = new XElement("domain",
            new XAttribute("type", shape.DomainType),
            new XElement("name", spec.Name),
            new XElement("uuid", spec.Id.ToString("D")),
            new XElement("metadata", InstanceMetadataXml.ToElement(record)),
            new XElement("memory", new XAttribute("unit", "MiB"), spec.MemoryMiB.ToString(CultureInfo.InvariantCulture)),
            new XElement("vcpu", spec.VCpus.ToString(CultureInfo.InvariantCulture)),
            os,
            new XElement("features", new XElement("acpi")),
            new XElement("on_poweroff", "destroy"),
            new XElement("on_reboot", "restart"),
            new XElement("on_crash", "destroy"),
            devices);
        return SafeXml.Write(domain);
    }

    /// <summary>The device XML for an attached volume.</summary>
    public static string BuildVolume(VolumeAttachment volume, DomainShape shape) => SafeXml.Write(VolumeElement(volume, shape));

    /// <summary>The device XML for a network interface with a known MAC address.</summary>
    public static string BuildInterface(string network, string macAddress, DomainShape shape) =>
        SafeXml.Write(InterfaceElement(network, macAddress, shape));

    /// <summary>The XML of a snapshot named <paramref name="snapshotName"/> that records the caller's <paramref name="displayName"/>.</summary>
    public static string BuildSnapshot(string snapshotName, string displayName) =>
        SafeXml.Write(new XElement("domainsnapshot", new XElement("name", snapshotName), new XElement("description", displayName)));

    private static XElement TypeElement(DomainShape shape)
    {
        var type = new XElement("type", new XAttribute("arch", shape.Architecture), "hvm");
        if (shape.MachineType is not null)
        {
            type.Add(new XAttribute("machine", shape.MachineType));
        }

        return type;
    }

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
