using System.Globalization;
using System.Xml.Linq;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Mapping;

/// <summary>
/// Writes <c>VirtualMachineConfigSpec</c> parts in WSDL order: the create spec (CPU, memory, a paravirtual SCSI
/// controller with thin disks, vmxnet3 NICs with manual MACs, the id as <c>instanceUuid</c> and in <c>extraConfig</c>)
/// and the device changes of reconfigure.
/// </summary>
internal static class VmConfigWriter
{
    /// <summary>The temporary key of a SCSI controller added in the same spec.</summary>
    public const int NewControllerKey = -100;

    /// <summary>SCSI unit 7 belongs to the controller itself.</summary>
    public static IEnumerable<int> ScsiUnits => Enumerable.Range(0, 16).Where(u => u != 7);

    /// <summary>Writes the <c>VirtualMachineConfigSpec</c> of a new VM for <paramref name="spec"/>.</summary>
    /// <param name="w">The writer of the request body.</param>
    /// <param name="spec">The instance to create.</param>
    /// <param name="guestId">The vSphere guest OS identifier.</param>
    /// <param name="datastore">The datastore name that holds the VM's files.</param>
    /// <param name="networks">The host's networks by name, for the spec's interfaces.</param>
    /// <param name="diskFiles">Per disk, the existing disk file it is backed by (a copy of its image), or null for a new thin disk.</param>
    public static void WriteCreateSpec(VimWriter w, InstanceSpec spec, string guestId, string datastore, IReadOnlyDictionary<string, ManagedObjectReference> networks,
        IReadOnlyList<string?>? diskFiles = null)
    {
        w.Start("config")
            .Element("name", spec.Name)
            .Element("instanceUuid", spec.Id.ToString("D"))
            .Element("guestId", guestId)
            .Start("files").Element("vmPathName", DatastoreRoot(datastore)).End()
            .Element("numCPUs", spec.VCpus)
            .Element("memoryMB", spec.MemoryMiB);
        if (spec.Disks.Count > 0)
        {
            WriteAddScsiController(w, NewControllerKey, 0);
            var units = ScsiUnits.GetEnumerator();
            for (var i = 0; i < spec.Disks.Count; i++)
            {
                units.MoveNext();
                if (diskFiles?[i] is { } existing)
                {
                    WriteAddExistingDisk(w, -(101 + i), existing, NewControllerKey, units.Current);
                    continue;
                }

                w.Start("deviceChange").Element("operation", "add").Element("fileOperation", "create")
                    .Start("device", "VirtualDisk").Element("key", -(101 + i))
                    .Start("backing", "VirtualDiskFlatVer2BackingInfo").Element("fileName", DatastoreRoot(datastore)).Element("diskMode", "persistent").Element("thinProvisioned", true).End()
                    .Element("controllerKey", NewControllerKey).Element("unitNumber", units.Current)
                    .Element("capacityInKB", spec.Disks[i].SizeGiB * 1024 * 1024)
                    .End().End();
            }
        }

        for (var i = 0; i < spec.NetworkInterfaces.Count; i++)
        {
            var nic = spec.NetworkInterfaces[i];
            WriteAddNic(w, -(201 + i), nic.Network, networks[nic.Network], nic.MacAddress);
        }

        w.Start("extraConfig", "OptionValue").Element("key", VmRecord.IdKey).StringValue("value", spec.Id.ToString("D")).End();
        w.Start("extraConfig", "OptionValue").Element("key", VmRecord.SpecKey).StringValue("value", InstanceSpecEnvelope.Serialize(spec)).End();
        w.End();
    }

    public static void WriteAddScsiController(VimWriter w, int key, int bus) =>
        w.Start("deviceChange").Element("operation", "add")
            .Start("device", "ParaVirtualSCSIController").Element("key", key).Element("busNumber", bus).Element("sharedBus", "noSharing").End()
            .End();

    public static void WriteAddNic(VimWriter w, int key, string networkName, ManagedObjectReference network, string? mac)
    {
        w.Start("deviceChange").Element("operation", "add")
            .Start("device", "VirtualVmxnet3").Element("key", key)
            .Start("backing", "VirtualEthernetCardNetworkBackingInfo").Element("deviceName", networkName).Ref("network", network).End()
            .Start("connectable").Element("startConnected", true).Element("allowGuestControl", true).Element("connected", true).End();
        if (mac is null)
        {
            w.Element("addressType", "generated");
        }
        else
        {
            w.Element("addressType", "manual").Element("macAddress", InstanceSpecValidator.NormalizeMac(mac));
        }

        w.End().End();
    }

    public static void WriteAddExistingDisk(VimWriter w, int key, string fileName, int controllerKey, int unit) =>
        w.Start("deviceChange").Element("operation", "add")
            .Start("device", "VirtualDisk").Element("key", key)
            .Start("backing", "VirtualDiskFlatVer2BackingInfo").Element("fileName", fileName).Element("diskMode", "persistent").End()
            .Element("controllerKey", controllerKey).Element("unitNumber", unit)
            .End().End();

    /// <summary>Removes a device, echoing the server's own description of it (files are kept).</summary>
    public static void WriteRemoveDevice(VimWriter w, XElement device)
    {
        w.Start("deviceChange").Element("operation", "remove").Start("device", device.XsiType());
        foreach (var child in device.Elements())
        {
            w.Raw(child);
        }

        w.End().End();
    }

    public static void WriteExtraConfig(VimWriter w, string key, string value) =>
        w.Start("extraConfig", "OptionValue").Element("key", key).StringValue("value", value).End();

    public static string VolumeKey(string device) => VmRecord.VolumeKeyPrefix + device.Replace("scsi", string.Empty, StringComparison.Ordinal).Replace(':', '.');

    public static string DeviceOfVolumeKey(string key)
    {
        var parts = key[VmRecord.VolumeKeyPrefix.Length..].Split('.');
        return string.Create(CultureInfo.InvariantCulture, $"scsi{parts[0]}:{parts[^1]}");
    }

    private static string DatastoreRoot(string datastore) => "[" + datastore + "]";
}
