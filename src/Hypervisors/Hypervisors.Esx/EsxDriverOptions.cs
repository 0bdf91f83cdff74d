using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx;

/// <summary>
/// Settings of <see cref="EsxDriver"/>, bindable from configuration (see
/// <see cref="EsxHypervisorsBuilderExtensions.AddEsx(HypervisorsBuilder, string, Microsoft.Extensions.Configuration.IConfigurationSection)"/>).
/// <see cref="RemoteHypervisorOptions.Url"/> is the SDK endpoint (<c>https://vcenter.example/sdk</c>); credentials come
/// from <c>UserName</c> and <c>PasswordFile</c> (or <c>Password</c>) and are never logged; <c>Tls:PinnedSha256Thumbprints</c>
/// pins a self-signed host's certificate.
/// </summary>
public sealed class EsxDriverOptions : RemoteHypervisorOptions
{
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

    /// <summary>
    /// The directories of this machine whose raw disk images may be named as <see cref="DiskSpec.ImageRef"/>; such a
    /// file is uploaded to the datastore. Empty allows none (datastore paths are always accepted).
    /// </summary>
    public IList<string> AllowedHostDirectories { get; } = [];

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

    /// <summary>How long the event watch's long poll waits before it is renewed.</summary>
    public TimeSpan EventPollWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <inheritdoc />
    public override IEnumerable<string> Validate(string keyPrefix)
    {
        foreach (var failure in base.Validate(keyPrefix))
        {
            yield return failure;
        }

        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromHours(1))
        {
            yield return $"{keyPrefix}:{nameof(RequestTimeout)}: must be between 0 and 1 hour, was {RequestTimeout}.";
        }

        if (EventPollWait < TimeSpan.FromSeconds(1) || EventPollWait > TimeSpan.FromMinutes(10))
        {
            yield return $"{keyPrefix}:{nameof(EventPollWait)}: must be between 1 second and 10 minutes, was {EventPollWait}.";
        }

        if (PageSize is < 1 or > 100_000)
        {
            yield return $"{keyPrefix}:{nameof(PageSize)}: must be between 1 and 100000, was {PageSize}.";
        }

        if (string.IsNullOrWhiteSpace(ApiVersion))
        {
            yield return $"{keyPrefix}:{nameof(ApiVersion)}: is required.";
        }

        if (string.IsNullOrWhiteSpace(GuestId))
        {
            yield return $"{keyPrefix}:{nameof(GuestId)}: is required.";
        }
    }

    internal VimClientOptions ToClientOptions() => new()
    {
        SdkUrl = Url ?? throw new InvalidOperationException("EsxDriverOptions.Url is required."),
        Credentials = GetCredentialAsync,
        Tls = Tls,
        RequestTimeout = RequestTimeout,
        ApiVersion = ApiVersion,
        PageSize = PageSize,
    };
}
