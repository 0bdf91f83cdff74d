using System.Globalization;
using System.Xml.Linq;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Mapping;

/// <summary>A VM's <c>config.hardware.device</c> list, with the lookups the device operations need.</summary>
internal sealed class VmDevices(IReadOnlyList<XElement> devices)
{
    private static readonly HashSet<string> ScsiControllerTypes = new(StringComparer.Ordinal)
    {
        "ParaVirtualSCSIController", "VirtualLsiLogicController", "VirtualLsiLogicSASController", "VirtualBusLogicController",
    };

    public IReadOnlyList<XElement> All { get; } = devices;

    public IEnumerable<XElement> Disks => All.Where(d => d.XsiType() == "VirtualDisk");

    public IEnumerable<XElement> NetworkCards => All.Where(d => d.Child("macAddress") is not null);

    public IEnumerable<XElement> ScsiControllers => All.Where(d => d.XsiType() is { } t && ScsiControllerTypes.Contains(t));

    public static VmDevices Read(XElement? array) => new(array?.Elements().ToList() ?? []);

    public static int Key(XElement device) => (int)device.ChildLong("key");

    public static int? UnitNumber(XElement device) => device.Child("unitNumber") is { } u ? int.Parse(u.Value, CultureInfo.InvariantCulture) : null;

    public static int ControllerKey(XElement device) => (int)device.ChildLong("controllerKey", -1);

    public static string? FileName(XElement device) => device.Child("backing")?.ChildText("fileName");

    public static string MacAddress(XElement nic) => (nic.ChildText("macAddress") ?? string.Empty).ToLowerInvariant();

    public static string NetworkName(XElement nic) => nic.Child("backing")?.ChildText("deviceName") ?? string.Empty;

    /// <summary>The guest device name of a disk, "scsi&lt;bus&gt;:&lt;unit&gt;".</summary>
    public string DiskDevice(XElement disk)
    {
        var controller = All.FirstOrDefault(d => Key(d) == ControllerKey(disk));
        var bus = controller?.ChildLong("busNumber") ?? 0;
        return string.Create(CultureInfo.InvariantCulture, $"scsi{bus}:{UnitNumber(disk) ?? 0}");
    }

    /// <summary>The disk at "scsi&lt;bus&gt;:&lt;unit&gt;", or null.</summary>
    public XElement? DiskAt(string device) => Disks.FirstOrDefault(d => DiskDevice(d) == device);
}
