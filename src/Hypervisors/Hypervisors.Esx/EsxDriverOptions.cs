using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx;

/// <summary>Settings of <see cref="EsxDriver"/>. Secrets come from <see cref="Credentials"/> and are never logged.</summary>
public sealed class EsxDriverOptions
{
    /// <summary>The SDK endpoint of the ESX host or vCenter, e.g. <c>https://vcenter.example/sdk</c>.</summary>
    public Uri? Url { get; set; }

    /// <summary>Where the user name and password come from (asked again at each re-login).</summary>
    public IEsxCredentialProvider? Credentials { get; set; }

    /// <summary>
    /// SHA-256 or SHA-1 thumbprints of server certificates to trust although they do not chain to a trusted root
    /// (the usual self-signed ESX host). Without any, the certificate must validate normally.
    /// </summary>
    public IList<string> TrustedThumbprints { get; } = [];

    /// <summary>The datacenter by name; the first one found when null.</summary>
    public string? Datacenter { get; set; }

    /// <summary>The cluster or standalone host (compute resource) by name; the first one found when null.</summary>
    public string? ComputeResource { get; set; }

    /// <summary>The resource pool by name inside the compute resource; its root pool when null.</summary>
    public string? ResourcePool { get; set; }

    /// <summary>The datastore VMs and their disks go to, by name; the first accessible one when null.</summary>
    public string? Datastore { get; set; }

    /// <summary>The VM folder by name inside the datacenter's VM folder; the datacenter's VM folder when null.</summary>
    public string? Folder { get; set; }

    /// <summary>The guest OS identifier of created VMs.</summary>
    public string GuestId { get; set; } = "otherGuest64";

    /// <summary>
    /// Whether the endpoint supports <c>RebootGuest</c> (a real host with VMware Tools in the guests does; vcsim 0.24
    /// does not). Declared in <see cref="DriverCapabilities.SupportsSoftReboot"/>.
    /// </summary>
    public bool SoftReboot { get; set; } = true;

    /// <summary>
    /// Whether a create looks its id up on the server (<c>SearchIndex.FindByUuid</c>) when the driver has not seen
    /// the id, so an instance another client made under the same id is found. vcsim 0.24 fails that lookup while it
    /// creates another VM, so its fixtures and the benchmark turn it off; the driver then relies on the ids and names
    /// it has seen (listed at connect and since) and on the server's own DuplicateName check.
    /// </summary>
    public bool VerifyNewIdsOnServer { get; set; } = true;

    /// <summary>Whether the driver watches <c>runtime.powerState</c> for lifecycle events (one long poll, from connect on).</summary>
    public bool EnableEvents { get; set; } = true;

    /// <summary>The longest one vSphere call may take.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The vim25 API version sent with each call.</summary>
    public string ApiVersion { get; set; } = "6.5";

    /// <summary>Objects per page when listing.</summary>
    public int PageSize { get; set; } = 1000;

    internal VimClientOptions ToClientOptions() => new()
    {
        SdkUrl = Url ?? throw new InvalidOperationException("EsxDriverOptions.Url is required."),
        Credentials = Credentials ?? throw new InvalidOperationException("EsxDriverOptions.Credentials is required."),
        TrustedThumbprints = [.. TrustedThumbprints],
        RequestTimeout = RequestTimeout,
        ApiVersion = ApiVersion,
        PageSize = PageSize,
    };
}
