using System.Formats.Tar;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Glance;

namespace Hypervisors.Images.Ovf;

/// <summary>
/// Exports a stopped instance whose disks are files on this host (libvirt's qcow2 overlays): each disk flattened
/// with <c>qemu-img convert</c> (overlay and base together), then either written as an OVA (streamOptimized VMDKs, a
/// DSP0243 descriptor written with <see cref="XmlWriter"/>, a SHA256 manifest) that <see cref="OvfImporter"/> reads
/// back to an equal spec, or uploaded to Glance as a qcow2 image (a snapshot export).
/// </summary>
public sealed class InstanceExporter(QemuImgTool qemuImg)
{
    private const string OvfNamespace = "http://schemas.dmtf.org/ovf/envelope/1";
    private const string RasdNamespace = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";

    /// <summary>Writes the instance as an OVA to <paramref name="output"/>.</summary>
    public async Task ExportOvaAsync(IHypervisorDriver driver, Guid instanceId, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(output);
        var (instance, devices) = await StoppedInstanceAsync(driver, instanceId, cancellationToken).ConfigureAwait(false);
        var work = Directory.CreateTempSubdirectory("hv-export-").FullName;
        try
        {
            var disks = new List<(string Name, string Path, long Capacity)>();
            for (var i = 0; i < devices.Disks.Count; i++)
            {
                var name = $"{instance.Name}-disk{i + 1}.vmdk";
                var path = Path.Combine(work, name);
                var source = devices.Disks[i].Path!;
                var info = await qemuImg.InfoAsync(source, cancellationToken).ConfigureAwait(false);
                await qemuImg.ConvertAsync(source, info.Format, path, "vmdk", cancellationToken, ["subformat=streamOptimized"]).ConfigureAwait(false);
                disks.Add((name, path, info.VirtualSize));
            }

            var descriptorName = instance.Name + ".ovf";
            var descriptor = Descriptor(instance, devices, disks.Select(d => (d.Name, new FileInfo(d.Path).Length, d.Capacity)).ToList());
            var manifest = new StringBuilder();
            manifest.Append(CultureInfo.InvariantCulture, $"SHA256({descriptorName})= {Convert.ToHexStringLower(SHA256.HashData(descriptor))}\n");
            foreach (var disk in disks)
            {
                var stream = File.OpenRead(disk.Path);
                await using (stream.ConfigureAwait(false))
                {
                    manifest.Append(CultureInfo.InvariantCulture, $"SHA256({disk.Name})= {Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false))}\n");
                }
            }

            var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
            await using (writer.ConfigureAwait(false))
            {
                await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, descriptorName) { DataStream = new MemoryStream(descriptor) }, cancellationToken).ConfigureAwait(false);
                await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, instance.Name + ".mf") { DataStream = new MemoryStream(Encoding.ASCII.GetBytes(manifest.ToString())) }, cancellationToken)
                    .ConfigureAwait(false);
                foreach (var disk in disks)
                {
                    await writer.WriteEntryAsync(disk.Path, disk.Name, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Uploads the instance's first disk, flattened to qcow2, as a new Glance image; returns it as Glance shows it.</summary>
    public async Task<GlanceImage> ExportToGlanceAsync(IHypervisorDriver driver, Guid instanceId, GlanceClient glance, string imageName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(glance);
        var (_, devices) = await StoppedInstanceAsync(driver, instanceId, cancellationToken).ConfigureAwait(false);
        if (devices.Disks.Count == 0)
        {
            throw new InvalidSpecException("instanceId", $"instance {instanceId} has no disk to export.");
        }

        var work = Directory.CreateTempSubdirectory("hv-export-").FullName;
        try
        {
            var source = devices.Disks[0].Path!;
            var flat = Path.Combine(work, "disk.qcow2");
            var info = await qemuImg.InfoAsync(source, cancellationToken).ConfigureAwait(false);
            await qemuImg.ConvertAsync(source, info.Format, flat, "qcow2", cancellationToken).ConfigureAwait(false);
            return await glance.UploadFileAsync(flat, new GlanceImageCreate(imageName, "qcow2"), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<(InstanceInfo Instance, InstanceDevices Devices)> StoppedInstanceAsync(IHypervisorDriver driver, Guid instanceId, CancellationToken cancellationToken)
    {
        var instance = await driver.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance.PowerState != PowerState.Shutdown)
        {
            throw new InvalidPowerStateException(instanceId, InstanceOperation.GetDevices, instance.PowerState);
        }

        var devices = await driver.GetDevicesAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (devices.Disks.Any(d => d.Path is null || !File.Exists(d.Path)))
        {
            throw new OperationNotSupportedException(driver.Capabilities.HypervisorType, InstanceOperation.GetDevices, "export needs the instance's disks as files on this host.");
        }

        return (instance, devices);
    }

    private static byte[] Descriptor(InstanceInfo instance, InstanceDevices devices, IReadOnlyList<(string Name, long Size, long Capacity)> disks)
    {
        var networks = devices.NetworkInterfaces.Select(n => n.Network).Distinct(StringComparer.Ordinal).ToList();
        using var buffer = new MemoryStream();
        using (var xml = XmlWriter.Create(buffer, new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) }))
        {
            xml.WriteStartElement("Envelope", OvfNamespace);
            xml.WriteAttributeString("xmlns", "ovf", null, OvfNamespace);
            xml.WriteAttributeString("xmlns", "rasd", null, RasdNamespace);
            xml.WriteStartElement("References", OvfNamespace);
            for (var i = 0; i < disks.Count; i++)
            {
                xml.WriteStartElement("File", OvfNamespace);
                xml.WriteAttributeString("id", OvfNamespace, $"file{i + 1}");
                xml.WriteAttributeString("href", OvfNamespace, disks[i].Name);
                xml.WriteAttributeString("size", OvfNamespace, disks[i].Size.ToString(CultureInfo.InvariantCulture));
                xml.WriteEndElement();
            }

            xml.WriteEndElement();
            xml.WriteStartElement("DiskSection", OvfNamespace);
            xml.WriteElementString("Info", OvfNamespace, "Virtual disks");
            for (var i = 0; i < disks.Count; i++)
            {
                xml.WriteStartElement("Disk", OvfNamespace);
                xml.WriteAttributeString("diskId", OvfNamespace, $"disk{i + 1}");
                xml.WriteAttributeString("fileRef", OvfNamespace, $"file{i + 1}");
                xml.WriteAttributeString("capacity", OvfNamespace, disks[i].Capacity.ToString(CultureInfo.InvariantCulture));
                xml.WriteAttributeString("format", OvfNamespace, "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized");
                xml.WriteEndElement();
            }

            xml.WriteEndElement();
            if (networks.Count > 0)
            {
                xml.WriteStartElement("NetworkSection", OvfNamespace);
                xml.WriteElementString("Info", OvfNamespace, "Networks");
                foreach (var network in networks)
                {
                    xml.WriteStartElement("Network", OvfNamespace);
                    xml.WriteAttributeString("name", OvfNamespace, network);
                    xml.WriteEndElement();
                }

                xml.WriteEndElement();
            }

            xml.WriteStartElement("VirtualSystem", OvfNamespace);
            xml.WriteAttributeString("id", OvfNamespace, instance.Name);
            xml.WriteElementString("Info", OvfNamespace, "Exported by the Hypervisors SDK");
            xml.WriteElementString("Name", OvfNamespace, instance.Name);
            xml.WriteStartElement("VirtualHardwareSection", OvfNamespace);
            xml.WriteElementString("Info", OvfNamespace, "Hardware");
            var next = 1;
            Item(xml, next++, 3, ("VirtualQuantity", instance.VCpus.ToString(CultureInfo.InvariantCulture)));
            Item(xml, next++, 4, ("AllocationUnits", "byte * 2^20"), ("VirtualQuantity", instance.MemoryMiB.ToString(CultureInfo.InvariantCulture)));
            var controller = next++;
            Item(xml, controller, 6, ("ResourceSubType", "virtio-scsi"));
            for (var i = 0; i < disks.Count; i++)
            {
                Item(xml, next++, 17, ("AddressOnParent", i.ToString(CultureInfo.InvariantCulture)), ("HostResource", $"ovf:/disk/disk{i + 1}"),
                    ("Parent", controller.ToString(CultureInfo.InvariantCulture)));
            }

            foreach (var nic in devices.NetworkInterfaces)
            {
                Item(xml, next++, 10, ("Address", nic.MacAddress), ("Connection", nic.Network));
            }

            xml.WriteEndElement();
            xml.WriteEndElement();
            xml.WriteEndElement();
        }

        return buffer.ToArray();
    }

    private static void Item(XmlWriter xml, int instanceId, int resourceType, params (string Name, string? Value)[] properties)
    {
        xml.WriteStartElement("Item", OvfNamespace);
        var values = properties.Append(("InstanceID", instanceId.ToString(CultureInfo.InvariantCulture))).Append(("ResourceType", resourceType.ToString(CultureInfo.InvariantCulture)));
        foreach (var (name, value) in values.Where(p => p.Item2 is not null).OrderBy(p => p.Item1, StringComparer.Ordinal))
        {
            xml.WriteElementString(name, RasdNamespace, value);
        }

        xml.WriteEndElement();
    }
}
