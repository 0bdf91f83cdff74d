using System.Xml;
using System.Xml.Linq;

namespace Hypervisors.Libvirt.Xml;

/// <summary>What the driver reads from <c>virConnectGetCapabilities</c>.</summary>
/// <param name="HostArchitecture">The host CPU architecture.</param>
/// <param name="CpuModel">The host CPU model, or empty.</param>
/// <param name="CpuVendor">The host CPU vendor, or empty.</param>
/// <param name="Sockets">Sockets in the host CPU topology, or 0 when not given.</param>
/// <param name="Cores">Cores per socket, or 0.</param>
/// <param name="Threads">Threads per core, or 0.</param>
/// <param name="GuestArchitectures">Distinct guest architectures, in document order.</param>
internal sealed record HostCapabilities(
    string HostArchitecture,
    string CpuModel,
    string CpuVendor,
    int Sockets,
    int Cores,
    int Threads,
    IReadOnlyList<string> GuestArchitectures)
{
    /// <summary>Parses capabilities XML (DTDs prohibited, size bounded).</summary>
    /// <exception cref="FormatException">The XML is not well-formed or not a capabilities document.</exception>
    public static HostCapabilities Parse(string xml)
    {
        XDocument document;
        try
        {
            document = SafeXml.Parse(xml);
        }
        catch (XmlException ex)
        {
            throw new FormatException("The capabilities XML is not well-formed or holds a DTD.", ex);
        }

        var root = document.Root;
        if (root?.Name.LocalName != "capabilities")
        {
            throw new FormatException($"Expected <capabilities>, found <{root?.Name.LocalName}>.");
        }

        var cpu = root.Element("host")?.Element("cpu");
        var topology = cpu?.Element("topology");
        return new HostCapabilities(
            cpu?.Element("arch")?.Value ?? string.Empty,
            cpu?.Element("model")?.Value ?? string.Empty,
            cpu?.Element("vendor")?.Value ?? string.Empty,
            IntAttribute(topology, "sockets"),
            IntAttribute(topology, "cores"),
            IntAttribute(topology, "threads"),
            [.. root.Elements("guest").Select(g => g.Element("arch")?.Attribute("name")?.Value).OfType<string>().Where(a => a.Length > 0).Distinct(StringComparer.Ordinal)]);
    }

    private static int IntAttribute(XElement? element, string name) =>
        int.TryParse(element?.Attribute(name)?.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0;
}
