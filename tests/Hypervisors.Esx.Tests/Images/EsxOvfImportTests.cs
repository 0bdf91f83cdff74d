using System.Xml.Linq;
using Hypervisors.Esx.Tests.Vcsim;

namespace Hypervisors.Esx.Tests.Images;

/// <summary>OVF import on vcsim through OvfManager.CreateImportSpec, ResourcePool.ImportVApp and an HttpNfcLease.</summary>
public sealed class EsxOvfImportTests
{
    private static readonly XNamespace Ovf = "http://schemas.dmtf.org/ovf/envelope/1";
    private static readonly XNamespace Rasd = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
    private static readonly XNamespace Vssd = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_ovf_package_imports_as_a_shut_down_instance_with_the_descriptors_hardware_and_its_disk_sent_through_the_lease(bool vcenter)
    {
        await using var server = await VcsimServer.StartAsync(vcenter, tls: false);
        await using var driver = new EsxDriver(server.CreateOptions());
        var disk = new byte[64 * 1024];
        Random.Shared.NextBytes(disk);
        var opened = new List<string>();
        var spec = Spec();
        var import = new EsxOvfImport(spec, Descriptor(cpus: 2, memoryMiB: 256, extraItem: null), (href, _) =>
        {
            opened.Add(href);
            return Task.FromResult<Stream>(new MemoryStream(disk));
        })
        {
            NetworkMapping = new Dictionary<string, string> { ["appliance-net"] = "VM Network" },
            Properties = new Dictionary<string, string> { ["guestinfo.role"] = "web" },
        };

        var created = await driver.ImportOvfAsync(import, Ct);

        Assert.Equal(["appliance-disk1.vmdk"], opened);
        Assert.Equal((PowerState.Shutdown, 2, 256L), (created.PowerState, created.VCpus, created.MemoryMiB));
        var read = await driver.GetInstanceAsync(spec.Id, Ct);
        Assert.Equal((spec.Name, 2, 256L, PowerState.Shutdown), (read.Name, read.VCpus, read.MemoryMiB, read.PowerState));
        Assert.Equal(spec.Metadata, read.Metadata.ToDictionary());
        Assert.Contains(await driver.ListInstancesAsync(Ct), i => i.Id == spec.Id);
        var devices = await driver.GetDevicesAsync(spec.Id, Ct);
        Assert.Equal(4, Assert.Single(devices.Disks).SizeGiB);
        Assert.Equal("VM Network", Assert.Single(devices.NetworkInterfaces).Network);
        await driver.StartInstanceAsync(spec.Id, Ct);
        await driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.DoesNotContain(await driver.ListInstancesAsync(Ct), i => i.Id == spec.Id);
    }

    [Fact]
    public async Task A_descriptor_vsphere_refuses_or_a_missing_network_imports_nothing()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        await using var driver = new EsxDriver(server.CreateOptions());
        var opened = 0;
        Task<Stream> Open(string href, CancellationToken ct)
        {
            opened++;
            return Task.FromResult<Stream>(new MemoryStream(new byte[512]));
        }

        var unsupported = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.ImportOvfAsync(
            new EsxOvfImport(Spec(), Descriptor(1, 64, extraItem: 99), Open), Ct));
        var network = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.ImportOvfAsync(
            new EsxOvfImport(Spec(), Descriptor(1, 64, null), Open) { NetworkMapping = new Dictionary<string, string> { ["appliance-net"] = "no-such-network" } }, Ct));
        await Assert.ThrowsAnyAsync<HypervisorException>(() => driver.ImportOvfAsync(new EsxOvfImport(Spec(), "<not-an-envelope", Open), Ct));

        Assert.Equal("import.OvfDescriptor", unsupported.Field);
        Assert.Contains("99", unsupported.Message, StringComparison.Ordinal);
        Assert.Equal("import.NetworkMapping[appliance-net]", network.Field);
        Assert.Equal(0, opened);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
        var vms = await driver.GetHostInfoAsync(Ct);
        Assert.Equal(0, vms.VCpusUsed);
    }

    [Fact]
    public async Task A_failed_upload_aborts_the_lease_and_removes_the_vm()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        await using var driver = new EsxDriver(server.CreateOptions());
        var spec = Spec();

        await Assert.ThrowsAnyAsync<Exception>(() => driver.ImportOvfAsync(
            new EsxOvfImport(spec, Descriptor(1, 64, null), (_, _) => Task.FromException<Stream>(new IOException("the package broke off"))), Ct));

        Assert.Empty(await driver.ListInstancesAsync(Ct));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.GetInstanceAsync(spec.Id, Ct));
        var again = await driver.ImportOvfAsync(new EsxOvfImport(spec, Descriptor(1, 64, null), (_, _) => Task.FromResult<Stream>(new MemoryStream(new byte[512]))), Ct);
        Assert.Equal(spec.Id, again.Id);
    }

    private static InstanceSpec Spec()
    {
        var id = Guid.NewGuid();
        return new InstanceSpec
        {
            Id = id,
            Name = "ovf-" + id.ToString("N")[..8],
            VCpus = 1,
            MemoryMiB = 64,
            Disks = [new DiskSpec(4)],
            Metadata = new Dictionary<string, string> { ["source"] = "ova" },
        };
    }

    /// <summary>A DSP0243 1.x descriptor: one disk on a SCSI controller, one NIC, CPUs and memory; an optional item of another resource type.</summary>
    private static string Descriptor(int cpus, int memoryMiB, int? extraItem)
    {
        XElement Item(int id, string name, int type, params object[] more) =>
            new(Ovf + "Item",
                new XElement(Rasd + "ElementName", name),
                new XElement(Rasd + "InstanceID", id),
                new XElement(Rasd + "ResourceType", type),
                more);

        var hardware = new XElement(Ovf + "VirtualHardwareSection",
            new XElement(Ovf + "Info", "Virtual hardware"),
            new XElement(Ovf + "System",
                new XElement(Vssd + "ElementName", "Virtual Hardware Family"),
                new XElement(Vssd + "InstanceID", 0),
                new XElement(Vssd + "VirtualSystemType", "vmx-13")),
            Item(1, "CPU", 3, new XElement(Rasd + "VirtualQuantity", cpus)),
            Item(2, "Memory", 4, new XElement(Rasd + "AllocationUnits", "byte * 2^20"), new XElement(Rasd + "VirtualQuantity", memoryMiB)),
            Item(3, "SCSI controller", 6, new XElement(Rasd + "ResourceSubType", "lsilogic")),
            new XElement(Ovf + "Item",
                new XElement(Rasd + "AddressOnParent", 0),
                new XElement(Rasd + "ElementName", "disk1"),
                new XElement(Rasd + "HostResource", "ovf:/disk/vmdisk1"),
                new XElement(Rasd + "InstanceID", 4),
                new XElement(Rasd + "Parent", 3),
                new XElement(Rasd + "ResourceType", 17)),
            Item(5, "NIC", 10, new XElement(Rasd + "AutomaticAllocation", true), new XElement(Rasd + "Connection", "appliance-net"), new XElement(Rasd + "ResourceSubType", "E1000")));
        if (extraItem is { } type)
        {
            hardware.Add(Item(6, "Something else", type));
        }

        var envelope = new XElement(Ovf + "Envelope",
            new XAttribute(XNamespace.Xmlns + "ovf", Ovf),
            new XAttribute(XNamespace.Xmlns + "rasd", Rasd),
            new XAttribute(XNamespace.Xmlns + "vssd", Vssd),
            new XElement(Ovf + "References",
                new XElement(Ovf + "File", new XAttribute(Ovf + "href", "appliance-disk1.vmdk"), new XAttribute(Ovf + "id", "file1"), new XAttribute(Ovf + "size", 65536))),
            new XElement(Ovf + "DiskSection",
                new XElement(Ovf + "Info", "Disks"),
                new XElement(Ovf + "Disk",
                    new XAttribute(Ovf + "capacity", 4),
                    new XAttribute(Ovf + "capacityAllocationUnits", "byte * 2^30"),
                    new XAttribute(Ovf + "diskId", "vmdisk1"),
                    new XAttribute(Ovf + "fileRef", "file1"),
                    new XAttribute(Ovf + "format", "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"))),
            new XElement(Ovf + "NetworkSection",
                new XElement(Ovf + "Info", "Networks"),
                new XElement(Ovf + "Network", new XAttribute(Ovf + "name", "appliance-net"), new XElement(Ovf + "Description", "The appliance's network"))),
            new XElement(Ovf + "VirtualSystem", new XAttribute(Ovf + "id", "appliance"),
                new XElement(Ovf + "Info", "An appliance"),
                new XElement(Ovf + "Name", "appliance"),
                hardware));
        return new XDocument(envelope).ToString();
    }
}
