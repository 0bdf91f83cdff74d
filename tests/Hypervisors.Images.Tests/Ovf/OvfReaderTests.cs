using Hypervisors.Images.Ovf;

namespace Hypervisors.Images.Tests.Ovf;

public sealed class OvfReaderTests
{
    private static OvfEnvelope ReadAppliance(string? option = null) =>
        OvfReader.Read(OvfSamples.Text(OvfSamples.Appliance.Replace("DISK1SIZE", "1000", StringComparison.Ordinal)), new OvfReadOptions { DeploymentOption = option });

    [Fact]
    public void A_collection_of_two_systems_reads_with_its_references_disks_networks_and_default_option()
    {
        var envelope = ReadAppliance();

        Assert.Equal("1", envelope.Version);
        Assert.Equal(new OvfFile("file1", "disk1.vmdk", 1000), Assert.Single(envelope.Files));
        Assert.Equal([new OvfDisk("vmdisk1", "file1", 1L << 30, "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"), new OvfDisk("scratch", null, 512L << 20, null)], envelope.Disks);
        Assert.Equal(["frontend", "backend"], envelope.Networks);
        Assert.Equal(["small", "large"], envelope.DeploymentOptions.Select(o => o.Id));
        Assert.Equal("large", envelope.SelectedDeploymentOption);
        Assert.Equal(["web", "db"], envelope.VirtualSystems.Select(s => s.Id));
        Assert.All(envelope.VirtualSystems, s => Assert.Equal("vapp", s.CollectionId));

        var web = envelope.VirtualSystems[0];
        Assert.Equal(("web-1", 2, 256L), (web.Name, web.VCpus, web.MemoryMiB));
        Assert.Equal([new OvfController("3", 6, "lsilogic"), new OvfController("4", 5, null)], web.Controllers);
        Assert.Equal([new OvfDiskDrive("5", "vmdisk1", "3", "0"), new OvfDiskDrive("6", "scratch", "3", "1")], web.DiskDrives);
        Assert.Equal(new OvfRemovableDrive("7", 15, null), Assert.Single(web.RemovableDrives));
        Assert.Equal(new OvfNetworkAdapter("8", "frontend", "E1000", null), Assert.Single(web.NetworkAdapters));
        Assert.Equal([new OvfProperty("com.example.web.hostname.1", "string", "web", true), new OvfProperty("com.example.web.port.1", "uint16", "80", false)], web.Properties);

        var db = envelope.VirtualSystems[1];
        Assert.Equal((1, 1024L, "backend"), (db.VCpus, db.MemoryMiB, Assert.Single(db.NetworkAdapters).Connection));
    }

    [Fact]
    public void The_chosen_deployment_option_selects_its_items()
    {
        Assert.Equal(1, ReadAppliance("small").VirtualSystems[0].VCpus);
        var error = Assert.Throws<OvfFormatException>(() => ReadAppliance("huge"));
        Assert.Equal("DeploymentOptionSection", error.Element);
        Assert.Equal(20, error.Line);
    }

    [Fact]
    public void Vendor_extensions_unknown_sections_and_resource_types_are_ignored_with_a_warning_naming_their_line()
    {
        var warnings = ReadAppliance().Warnings;
        Assert.Contains(warnings, w => w.StartsWith("line 25:", StringComparison.Ordinal) && w.Contains("IpAssignmentSection", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("ResourceType 35", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("FutureSection", StringComparison.Ordinal));
    }

    [Fact]
    public void An_ovf_2_envelope_is_read_too()
    {
        var xml = OvfSamples.Single("vm", "d.vmdk", 10, 1 << 20).Replace("ovf/envelope/1", "ovf/envelope/2", StringComparison.Ordinal);
        var envelope = OvfReader.Read(OvfSamples.Text(xml));
        Assert.Equal(("2", "vm"), (envelope.Version, Assert.Single(envelope.VirtualSystems).Id));
    }

    [Fact]
    public void A_DTD_is_refused()
    {
        const string xml = """
            <?xml version="1.0"?>
            <!DOCTYPE Envelope [<!ENTITY a "aaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
            <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1">&b;</Envelope>
            """;
        var error = Assert.Throws<OvfFormatException>(() => OvfReader.Read(OvfSamples.Text(xml)));
        Assert.Equal(("!DOCTYPE", 2), (error.Element, error.Line));
    }

    [Fact]
    public void An_undeclared_entity_is_refused_without_expansion()
    {
        const string xml = """
            <?xml version="1.0"?>
            <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1">
              <References>&lol9;</References>
            </Envelope>
            """;
        var error = Assert.Throws<OvfFormatException>(() => OvfReader.Read(OvfSamples.Text(xml)));
        Assert.Equal(3, error.Line);
    }

    [Fact]
    public void A_disk_declared_at_two_to_the_forty_bytes_is_refused_naming_the_disk_and_its_line()
    {
        var xml = OvfSamples.Single("vm", "d.vmdk", 10, 1L << 40);
        var error = Assert.Throws<OvfFormatException>(() => OvfReader.Read(OvfSamples.Text(xml)));
        Assert.Equal(("Disk", 5), (error.Element, error.Line));
        Assert.Contains("1099511627776", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ovf:/disk/d1", "ovf:/disk/missing", "Item")]
    [InlineData("<rasd:Parent>3</rasd:Parent>", "<rasd:Parent>99</rasd:Parent>", "VirtualHardwareSection")]
    [InlineData("<rasd:VirtualQuantity>256</rasd:VirtualQuantity>", "<rasd:VirtualQuantity>lots</rasd:VirtualQuantity>", "Item")]
    [InlineData("ovf:href=\"d.vmdk\"", "ovf:href=\"../../etc/shadow\"", "File")]
    [InlineData("ovf:fileRef=\"f1\"", "ovf:fileRef=\"f9\"", "Disk")]
    [InlineData("<VirtualSystem ovf:id=\"vm\">", "<VirtualSystem>", "VirtualSystem")]
    public void Every_error_names_the_element_and_its_line(string from, string to, string element)
    {
        var xml = OvfSamples.Single("vm", "d.vmdk", 10, 1 << 20).Replace(from, to, StringComparison.Ordinal);
        var error = Assert.Throws<OvfFormatException>(() => OvfReader.Read(OvfSamples.Text(xml)));
        Assert.Equal(element, error.Element);
        Assert.True(error.Line > 1, error.Message);
        Assert.Contains($"line {error.Line}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("byte * 2^20", 1L << 20)]
    [InlineData("byte*2^30", 1L << 30)]
    [InlineData("MegaBytes", 1L << 20)]
    [InlineData("byte", 1L)]
    [InlineData("byte * 1024", 1024L)]
    public void Allocation_units_are_understood(string units, long bytes) => Assert.Equal(bytes, OvfReader.BytesPerUnit(units));
}
