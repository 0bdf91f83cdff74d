using System.Net;

namespace Hypervisors.Libvirt;

/// <summary>What a connection URI says about the hypervisor behind it, decided before connecting.</summary>
/// <param name="Scheme">The driver part of the scheme: "qemu" or "test".</param>
/// <param name="IsTestDriver">Whether it is libvirt's in-memory test driver.</param>
/// <param name="IsLocal">Whether libvirt's host is this machine (files the driver writes are visible to it).</param>
internal sealed record LibvirtUriProfile(string Scheme, bool IsTestDriver, bool IsLocal)
{
    /// <summary>Reads the profile of <paramref name="uri"/>.</summary>
    /// <exception cref="ArgumentException">The URI is malformed or names a hypervisor this driver does not drive.</exception>
    public static LibvirtUriProfile From(string uri, bool? isLocalOverride)
    {
        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
        {
            throw new ArgumentException($"'{uri}' is not a libvirt connection URI.", nameof(uri));
        }

        var scheme = parsed.Scheme.Split('+')[0].ToLowerInvariant();
        if (scheme is not ("qemu" or "test"))
        {
            throw new ArgumentException($"The libvirt driver drives qemu: and test: URIs, not '{parsed.Scheme}:'.", nameof(uri));
        }

        var host = parsed.Host;
        var local = isLocalOverride ?? (host.Length == 0 || host == "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip)));
        return new LibvirtUriProfile(scheme, scheme == "test", local);
    }

    /// <summary>The hypervisor family reported in capabilities and host info.</summary>
    public string HypervisorType => IsTestDriver ? "Test" : "QEMU";

    /// <summary>What the driver supports on this URI.</summary>
    public DriverCapabilities Capabilities => new()
    {
        HypervisorType = HypervisorType,
        SupportsSoftReboot = true,
        SupportsPause = true,
        SupportsSuspend = true,

        // The test driver runs no guest, so nothing ever writes a console log; remote logs are not readable here.
        SupportsConsoleOutput = IsLocal && !IsTestDriver,
        SupportsDeviceListing = true,

        // libvirt's test driver has no virDomainAttachDeviceFlags/virDomainDetachDeviceFlags.
        SupportsVolumeAttach = !IsTestDriver,
        SupportsInterfaceAttach = !IsTestDriver,
        SupportsSnapshots = true,
        SupportsEvents = true,

        // Overlays are made with qemu-img on this machine, so only for a local libvirt.
        SupportsImageDisks = IsLocal,
        SupportsKernelBoot = true,
    };
}
