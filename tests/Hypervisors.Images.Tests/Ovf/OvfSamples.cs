using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Hypervisors.Images.Tests.Ovf;

/// <summary>Descriptors and packages written for the tests from DSP0243's structure.</summary>
internal static class OvfSamples
{
    /// <summary>An OVF 1.x descriptor with two deployment options, a collection of two systems and every item kind the reader maps.</summary>
    public const string Appliance = """
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
                  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
                  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
                  xmlns:vmw="http://www.vmware.com/schema/ovf">
          <References>
            <File ovf:id="file1" ovf:href="disk1.vmdk" ovf:size="DISK1SIZE"/>
          </References>
          <DiskSection>
            <Info>Virtual disks</Info>
            <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30"
                  ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
            <Disk ovf:diskId="scratch" ovf:capacity="512" ovf:capacityAllocationUnits="byte * 2^20"/>
          </DiskSection>
          <NetworkSection>
            <Info>Networks</Info>
            <Network ovf:name="frontend"><Description>Front</Description></Network>
            <Network ovf:name="backend"/>
          </NetworkSection>
          <DeploymentOptionSection>
            <Info>Sizes</Info>
            <Configuration ovf:id="small"><Label>Small</Label><Description>1 CPU</Description></Configuration>
            <Configuration ovf:id="large" ovf:default="true"><Label>Large</Label><Description>2 CPUs</Description></Configuration>
          </DeploymentOptionSection>
          <vmw:IpAssignmentSection ovf:required="false"><Info>vendor</Info></vmw:IpAssignmentSection>
          <VirtualSystemCollection ovf:id="vapp">
            <Info>A two-tier appliance</Info>
            <VirtualSystem ovf:id="web">
              <Info>Web tier</Info>
              <Name>web-1</Name>
              <ProductSection ovf:class="com.example.web" ovf:instance="1">
                <Info>Settings</Info>
                <Property ovf:key="hostname" ovf:type="string" ovf:value="web" ovf:userConfigurable="true"/>
                <Category>Network</Category>
                <Property ovf:key="port" ovf:type="uint16" ovf:value="80"/>
              </ProductSection>
              <VirtualHardwareSection>
                <Info>Hardware</Info>
                <Item ovf:configuration="small">
                  <rasd:ElementName>1 CPU</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
                  <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity>
                </Item>
                <Item ovf:configuration="large">
                  <rasd:ElementName>2 CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
                  <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity>
                </Item>
                <Item>
                  <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>Memory</rasd:ElementName>
                  <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>256</rasd:VirtualQuantity>
                </Item>
                <Item>
                  <rasd:ElementName>SCSI</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID>
                  <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType>
                </Item>
                <Item>
                  <rasd:ElementName>IDE</rasd:ElementName><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType>
                </Item>
                <Item>
                  <rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk0</rasd:ElementName>
                  <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID>
                  <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType>
                </Item>
                <Item>
                  <rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:ElementName>disk1</rasd:ElementName>
                  <rasd:HostResource>ovf:/disk/scratch</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID>
                  <rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType>
                </Item>
                <Item ovf:required="false">
                  <rasd:ElementName>cdrom</rasd:ElementName><rasd:InstanceID>7</rasd:InstanceID><rasd:Parent>4</rasd:Parent>
                  <rasd:ResourceType>15</rasd:ResourceType>
                </Item>
                <Item>
                  <rasd:Connection>frontend</rasd:Connection><rasd:ElementName>eth0</rasd:ElementName>
                  <rasd:InstanceID>8</rasd:InstanceID><rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType>
                </Item>
                <Item>
                  <rasd:ElementName>sound</rasd:ElementName><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>35</rasd:ResourceType>
                </Item>
              </VirtualHardwareSection>
              <OperatingSystemSection ovf:id="96"><Info>Debian</Info></OperatingSystemSection>
            </VirtualSystem>
            <VirtualSystem ovf:id="db">
              <Info>Database tier</Info>
              <VirtualHardwareSection>
                <Info>Hardware</Info>
                <Item>
                  <rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity>
                </Item>
                <Item>
                  <rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits>
                  <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity>
                </Item>
                <Item>
                  <rasd:Connection>backend</rasd:Connection><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>10</rasd:ResourceType>
                </Item>
              </VirtualHardwareSection>
              <FutureSection><Info>not yet specified</Info></FutureSection>
            </VirtualSystem>
          </VirtualSystemCollection>
        </Envelope>
        """;

    /// <summary>
    /// A descriptor for one system booting from one disk file of <paramref name="diskSize"/> bytes; for vSphere
    /// (<paramref name="vsphere"/>) with a System element naming the hardware family and a SCSI controller subtype,
    /// which vcsim's CreateImportSpec needs.
    /// </summary>
    public static string Single(string systemName, string diskHref, long diskSize, long capacityBytes, bool vsphere = false) => $"""
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
                  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
          <References><File ovf:id="f1" ovf:href="{diskHref}" ovf:size="{diskSize}"/></References>
          <DiskSection><Info>Disks</Info><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="{capacityBytes}"/></DiskSection>
          <VirtualSystem ovf:id="{systemName}">
            <Info>One system</Info>
            <Name>{systemName}</Name>
            <VirtualHardwareSection>
              <Info>Hardware</Info>{(vsphere ? "<System xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\"><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>" : "")}
              <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
              <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>
              <Item><rasd:InstanceID>3</rasd:InstanceID>{(vsphere ? "<rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>" : "")}<rasd:ResourceType>6</rasd:ResourceType></Item>
              <Item><rasd:HostResource>ovf:/disk/d1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>
        """;

    public static Stream Text(string xml) => new MemoryStream(Encoding.UTF8.GetBytes(xml));

    /// <summary>Writes an OVA: the entries in order, plus a SHA256 manifest second unless <paramref name="manifest"/> is false.</summary>
    public static async Task<byte[]> OvaAsync(IReadOnlyList<(string Name, byte[] Data)> entries, bool manifest = true, Func<string, string>? editManifest = null)
    {
        using var output = new MemoryStream();
        await using (var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true))
        {
            var ordered = entries.ToList();
            if (manifest)
            {
                var text = string.Concat(entries.Skip(0).Select(e => $"SHA256({e.Name})= {Convert.ToHexStringLower(SHA256.HashData(e.Data))}\n"));
                text = editManifest?.Invoke(text) ?? text;
                var name = Path.ChangeExtension(entries[0].Name, ".mf");
                ordered.Insert(1, (name, Encoding.ASCII.GetBytes(text)));
            }

            foreach (var (name, data) in ordered)
            {
                var entry = new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) };
                await writer.WriteEntryAsync(entry);
            }
        }

        return output.ToArray();
    }
}
