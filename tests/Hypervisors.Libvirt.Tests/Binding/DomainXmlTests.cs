using System.Xml;
using System.Xml.Linq;
using Hypervisors.Libvirt.Xml;

namespace Hypervisors.Libvirt.Tests.Binding;

public sealed class DomainXmlTests
{
    private static readonly DomainShape Qemu = new("qemu", "x86_64", "pc");

    [Fact]
    public void A_name_that_looks_like_markup_comes_out_as_text()
    {
        // The validator refuses such names before a driver sees them; the builder escapes them regardless.
        var spec = Spec() with { Name = "a</name><devices>" };
        var xml = DomainXmlBuilder.Build(Record(spec), Qemu);
        var domain = XDocument.Parse(xml).Root!;
        Assert.Equal("a</name><devices>", domain.Element("name")!.Value);
        Assert.Single(domain.Elements("devices"));
        Assert.Contains("a&lt;/name&gt;&lt;devices&gt;", xml, StringComparison.Ordinal);
    }

    [Fact]
    public void The_utf8_form_libvirt_is_given_is_the_same_document_nul_terminated()
    {
        // What Define passes to virDomainDefineXML: non-ASCII and escaped text byte for byte as the string form has it.
        var spec = Spec() with { Name = "vm-größe-日本-<&>", Metadata = new Dictionary<string, string> { ["ключ"] = "wert \"ü\"" } };
        var bytes = DomainXmlBuilder.BuildUtf8(Record(spec), Qemu);

        Assert.Equal(0, bytes[^1]);
        Assert.Equal(-1, bytes.AsSpan(0, bytes.Count - 1).IndexOf((byte)0));
        Assert.Equal(DomainXmlBuilder.Build(Record(spec), Qemu), System.Text.Encoding.UTF8.GetString(bytes.AsSpan(0, bytes.Count - 1)));
        Assert.NotEqual(0xEF, bytes[0]);
    }

    [Fact]
    public void A_character_xml_cannot_carry_is_refused_in_the_utf8_form_too()
    {
        Assert.Throws<ArgumentException>(() => DomainXmlBuilder.BuildUtf8(Record(Spec() with { Name = "a\u0001b" }), Qemu));
    }

    [Fact]
    public void The_domain_has_kernel_boot_disks_interfaces_and_a_file_console()
    {
        var spec = Spec() with
        {
            Disks = [new DiskSpec(2, "/images/base.qcow2"), new DiskSpec(1)],
            NetworkInterfaces = [new NetworkInterfaceSpec("default", "52:54:00:AA:BB:CC"), new NetworkInterfaceSpec("bridge:br0")],
            KernelBoot = new KernelBootSpec("/boot/vmlinuz", "/boot/initrd.gz", "console=ttyS0 quiet"),
        };
        var record = new InstanceRecord(spec, "/inst/x", "/inst/x/console.log", ["/inst/x/disk0.qcow2", "/inst/x/disk1.qcow2"], []);
        var domain = XDocument.Parse(DomainXmlBuilder.Build(record, Qemu)).Root!;

        Assert.Equal("qemu", domain.Attribute("type")!.Value);
        Assert.Equal(spec.Id.ToString("D"), domain.Element("uuid")!.Value);
        Assert.Equal("128", domain.Element("memory")!.Value);
        Assert.Equal("MiB", domain.Element("memory")!.Attribute("unit")!.Value);
        var os = domain.Element("os")!;
        Assert.Equal("pc", os.Element("type")!.Attribute("machine")!.Value);
        Assert.Equal("/boot/vmlinuz", os.Element("kernel")!.Value);
        Assert.Equal("/boot/initrd.gz", os.Element("initrd")!.Value);
        Assert.Equal("console=ttyS0 quiet", os.Element("cmdline")!.Value);

        var devices = domain.Element("devices")!;
        Assert.Equal(["vda", "vdb"], devices.Elements("disk").Select(d => d.Element("target")!.Attribute("dev")!.Value));
        Assert.All(devices.Elements("disk"), d => Assert.Equal("qcow2", d.Element("driver")!.Attribute("type")!.Value));
        var nics = devices.Elements("interface").ToList();
        Assert.Equal("52:54:00:aa:bb:cc", nics[0].Element("mac")!.Attribute("address")!.Value);
        Assert.Equal("default", nics[0].Element("source")!.Attribute("network")!.Value);
        Assert.Equal("bridge", nics[1].Attribute("type")!.Value);
        Assert.Equal("br0", nics[1].Element("source")!.Attribute("bridge")!.Value);
        var serial = devices.Element("serial")!;
        Assert.Equal("file", serial.Attribute("type")!.Value);
        Assert.Equal("/inst/x/console.log", serial.Element("source")!.Attribute("path")!.Value);
        Assert.Equal("on", serial.Element("source")!.Attribute("append")!.Value);
    }

    [Fact]
    public void The_record_in_the_domain_metadata_reads_back_as_an_equal_spec()
    {
        var spec = Spec() with
        {
            Disks = [new DiskSpec(3, "/images/a & b.qcow2")],
            NetworkInterfaces = [new NetworkInterfaceSpec("default", "52:54:00:aa:bb:cc"), new NetworkInterfaceSpec("other")],
            KernelBoot = new KernelBootSpec("/k", null, "a=\"b\" <c>"),
            Metadata = new Dictionary<string, string> { ["role"] = "<web> & \"api\"", ["empty"] = string.Empty },
            StartAfterCreate = true,
        };
        var record = new InstanceRecord(spec, "/inst/x", "/inst/x/console.log", ["/inst/x/disk0.qcow2"], [new VolumeAttachment("v1", "/dev/sdb", "vdb", true)]);
        var metadata = XDocument.Parse(DomainXmlBuilder.Build(record, Qemu)).Root!.Element("metadata")!.Elements().Single();

        var read = InstanceMetadataXml.FromElement(spec.Id, metadata);
        Assert.Equal(spec, read.Spec);
        Assert.Equal(record.DiskPaths, read.DiskPaths);
        Assert.Equal(record.Volumes, read.Volumes);
        Assert.Equal("/inst/x/console.log", read.ConsoleLogPath);
        Assert.Equal("/inst/x", read.InstanceDirectory);
    }

    [Fact]
    public void The_record_written_for_set_metadata_declares_no_namespace_and_reads_back_once_libvirt_adds_one()
    {
        var record = Record(Spec() with { Metadata = new Dictionary<string, string> { ["k"] = "v" } }) with { Volumes = [new VolumeAttachment("v1", "/a.img", "vdb", false)] };
        var text = InstanceMetadataXml.ToXml(record);
        Assert.DoesNotContain("xmlns", text, StringComparison.Ordinal);

        // virDomainSetMetadata puts only the root element into the namespace it is given.
        var root = XElement.Parse(text);
        root.Name = XName.Get(root.Name.LocalName, InstanceMetadataXml.NamespaceUri);
        var read = InstanceMetadataXml.Parse(record.Spec.Id, root.ToString());
        Assert.Equal(record.Spec, read.Spec);
        Assert.Equal(record.Volumes, read.Volumes);
    }

    [Fact]
    public void Metadata_that_is_not_a_record_is_refused()
    {
        Assert.Throws<FormatException>(() => InstanceMetadataXml.Parse(Guid.NewGuid(), "<other/>"));
        Assert.Throws<FormatException>(() => InstanceMetadataXml.Parse(Guid.NewGuid(), "<instance><vcpus>1</vcpus></instance>"));
        Assert.Throws<FormatException>(() => InstanceMetadataXml.Parse(Guid.NewGuid(), "<instance><spec>{\"version\":9,\"spec\":{}}</spec></instance>"));
        var other = Record(Spec());
        Assert.Throws<FormatException>(() => InstanceMetadataXml.Parse(Guid.NewGuid(), InstanceMetadataXml.ToXml(other))); // another instance's spec
        Assert.Throws<FormatException>(() => InstanceMetadataXml.Parse(Guid.NewGuid(), "<!DOCTYPE instance [<!ENTITY e 'x'>]><instance/>"));
    }

    [Fact]
    public void A_character_xml_cannot_carry_is_kept_escaped_in_the_spec_envelope()
    {
        var spec = Spec() with { Metadata = new Dictionary<string, string> { ["k"] = "\uFFFE" } };
        var metadata = XDocument.Parse(DomainXmlBuilder.Build(Record(spec), Qemu)).Root!.Element("metadata")!.Elements().Single();
        Assert.Equal(spec, InstanceMetadataXml.FromElement(spec.Id, metadata).Spec);
    }

    [Fact]
    public void Device_names_follow_the_guest_order()
    {
        Assert.Equal(["vda", "vdb", "vdz", "vdaa", "vdab", "vdba"], new[] { 0, 1, 25, 26, 27, 52 }.Select(InstanceRecord.DeviceName));
        var record = Record(Spec() with { Disks = [new DiskSpec(1)] }) with { Volumes = [new VolumeAttachment("v", "/x", "vdb", false)] };
        Assert.Equal("vdc", record.NextFreeDevice());
    }

    [Fact]
    public void Interfaces_and_snapshots_are_read_from_libvirt_xml()
    {
        var domain = SafeXml.Parse("""
            <domain><devices>
              <interface type='network'><mac address='52:54:00:AA:00:01'/><source network='default'/><target dev='vnet0'/></interface>
              <interface type='bridge'><mac address='52:54:00:aa:00:02'/><source bridge='br0'/></interface>
            </devices></domain>
            """);
        var nics = DomainXmlReader.Interfaces(domain);
        Assert.Equal([new NetworkInterfaceInfo("52:54:00:aa:00:01", "default", "vnet0"), new NetworkInterfaceInfo("52:54:00:aa:00:02", "bridge:br0")], nics);
        Assert.Contains("52:54:00:aa:00:02", DomainXmlReader.InterfaceXml(domain, "52:54:00:AA:00:02"), StringComparison.Ordinal);
        Assert.Null(DomainXmlReader.InterfaceXml(domain, "52:54:00:aa:00:03"));

        var snapshot = DomainXmlReader.Snapshot(SafeXml.Parse(
            "<domainsnapshot><name>snap-1</name><description>nightly</description><state>running</state><creationTime>1700000000</creationTime></domainsnapshot>"));
        Assert.Equal(new SnapshotInfo("snap-1", "nightly", DateTimeOffset.FromUnixTimeSeconds(1700000000), PowerState.Running), snapshot);
    }

    [Fact]
    public void Documents_with_a_dtd_are_refused()
    {
        Assert.Throws<XmlException>(() => SafeXml.Parse("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><d>&x;</d>"));
    }

    private static InstanceSpec Spec() => new() { Id = Guid.NewGuid(), Name = "vm-1", VCpus = 2, MemoryMiB = 128 };

    private static InstanceRecord Record(InstanceSpec spec) => new(spec, null, null, [], []);
}
