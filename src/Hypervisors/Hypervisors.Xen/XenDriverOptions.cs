using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen;

/// <summary>
/// Settings for <see cref="XenDriver"/>, bindable from configuration (see
/// <see cref="XenHypervisorsBuilderExtensions.AddXen(HypervisorsBuilder, string, Microsoft.Extensions.Configuration.IConfigurationSection)"/>).
/// <see cref="RemoteHypervisorOptions.Url"/> is the XenAPI server (the pool master, <c>https://xcp-host/</c>); the
/// credentials (<c>UserName</c>, <c>PasswordFile</c> or <c>Password</c>) are read at every login and never logged;
/// <c>Tls:PinnedSha256Thumbprints</c> pins a self-signed host's certificate.
/// </summary>
public sealed class XenDriverOptions : RemoteHypervisorOptions
{
    /// <summary>XML-RPC (any XenAPI server) or JSON-RPC (XCP-ng, XenServer 7.3 and later).</summary>
    public XenApiTransport Transport { get; set; } = XenApiTransport.XmlRpc;

    /// <summary>
    /// A template to clone for every instance (its <c>name_label</c> or UUID); null creates instances from scratch
    /// with <c>VM.create</c>.
    /// </summary>
    public string? TemplateName { get; set; }

    /// <summary>The network for interfaces whose spec names none that exists (its <c>name_label</c>, bridge or UUID).</summary>
    public string? Network { get; set; }

    /// <summary>The storage repository for new disks (its <c>name_label</c> or UUID); null uses the pool's default SR.</summary>
    public string? StorageRepository { get; set; }

    /// <summary>
    /// The directories of this machine whose raw disk images may be named as <see cref="DiskSpec.ImageRef"/>; such a
    /// file is imported into a new VDI through XenAPI's <c>/import_raw_vdi</c>. Empty allows none (VDI names and
    /// UUIDs, and the files of an image cache the driver trusts, are always accepted).
    /// </summary>
    public IList<string> AllowedHostDirectories { get; } = [];

    /// <summary>How long one call may take.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one <c>event.from</c> long poll waits on the server.</summary>
    public TimeSpan EventPollTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a long operation may take: a task (storage copies, the graceful shutdown's upper bound) and, beyond
    /// <see cref="RequestTimeout"/>, a synchronous call a real host may take long to answer (VM.start, VM.suspend, ...).
    /// </summary>
    public TimeSpan TaskTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The originator string sent at login (shown in xapi's session list).</summary>
    public string Originator { get; set; } = "hypervisors-sdk";

    /// <summary>Decoder bounds.</summary>
    public XmlRpcLimits Limits { get; set; } = XmlRpcLimits.Default;

    /// <inheritdoc />
    public override IEnumerable<string> Validate(string keyPrefix)
    {
        foreach (var failure in base.Validate(keyPrefix))
        {
            yield return failure;
        }

        if (!Enum.IsDefined(Transport))
        {
            yield return $"{keyPrefix}:{nameof(Transport)}: '{Transport}' is not a transport (XmlRpc or JsonRpc).";
        }

        foreach (var (key, value) in new[] { (nameof(RequestTimeout), RequestTimeout), (nameof(EventPollTimeout), EventPollTimeout), (nameof(TaskTimeout), TaskTimeout) })
        {
            if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(1))
            {
                yield return $"{keyPrefix}:{key}: must be positive and at most one day, was {value}.";
            }
        }

        if (string.IsNullOrWhiteSpace(Originator))
        {
            yield return $"{keyPrefix}:{nameof(Originator)}: is required.";
        }

        if (Limits is null)
        {
            yield return $"{keyPrefix}:{nameof(Limits)}: is required.";
        }

        foreach (var failure in HostPathPolicy.Validate(AllowedHostDirectories, $"{keyPrefix}:{nameof(AllowedHostDirectories)}"))
        {
            yield return failure;
        }
    }
}
