using System.Globalization;
using System.Xml.Linq;

namespace Hypervisors.Libvirt.Xml;

/// <summary>Reads what the driver needs from libvirt's XML: a domain's interfaces, snapshots, host capabilities.</summary>
internal static class DomainXmlReader
{
    /// <summary>The network interfaces in a domain's XML, MAC addresses lower-case.</summary>
    public static IReadOnlyList<NetworkInterfaceInfo> Interfaces(XDocument domain)
    {
        var result = new List<NetworkInterfaceInfo>();
        foreach (var nic in domain.Root?.Element("devices")?.Elements("interface") ?? [])
        {
            var mac = nic.Element("mac")?.Attribute("address")?.Value;
            if (mac is null)
            {
                continue;
            }

            var source = nic.Element("source");
            var network = nic.Attribute("type")?.Value == "bridge"
                ? DomainXmlBuilder.BridgePrefix + source?.Attribute("bridge")?.Value
                : source?.Attribute("network")?.Value ?? string.Empty;
            result.Add(new NetworkInterfaceInfo(mac.ToLowerInvariant(), network, nic.Element("target")?.Attribute("dev")?.Value));
        }

        return result;
    }

    /// <summary>The interface element with <paramref name="macAddress"/>, as XML for a detach, or null.</summary>
    public static string? InterfaceXml(XDocument domain, string macAddress) =>
        (domain.Root?.Element("devices")?.Elements("interface") ?? [])
            .FirstOrDefault(e => string.Equals(e.Element("mac")?.Attribute("address")?.Value, macAddress, StringComparison.OrdinalIgnoreCase)) is { } nic
            ? SafeXml.Write(nic)
            : null;

    /// <summary>A snapshot from its <c>&lt;domainsnapshot&gt;</c> XML.</summary>
    public static SnapshotInfo Snapshot(XDocument snapshot)
    {
        var root = snapshot.Root ?? throw new FormatException("Empty snapshot XML.");
        var name = root.Element("name")?.Value ?? throw new FormatException("Snapshot XML without a name.");
        var created = long.TryParse(root.Element("creationTime")?.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : DateTimeOffset.UnixEpoch;
        var state = root.Element("state")?.Value switch
        {
            "running" or "blocked" => PowerState.Running,
            "paused" => PowerState.Paused,
            "shutoff" or "shutdown" or "disk-snapshot" => PowerState.Shutdown,
            "crashed" => PowerState.Crashed,
            "pmsuspended" => PowerState.Suspended,
            _ => PowerState.NoState,
        };
        return new SnapshotInfo(name, root.Element("description")?.Value ?? name, created, state);
    }
}
