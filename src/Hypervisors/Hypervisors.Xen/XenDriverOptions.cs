using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen;

/// <summary>Settings for <see cref="XenDriver"/>.</summary>
public sealed class XenDriverOptions
{
    /// <summary>The XenAPI server (the pool master), e.g. <c>https://xcp-host/</c>.</summary>
    public Uri? Url { get; set; }

    /// <summary>XML-RPC (any XenAPI server) or JSON-RPC (XCP-ng, XenServer 7.3 and later).</summary>
    public XenApiTransport Transport { get; set; } = XenApiTransport.XmlRpc;

    /// <summary>
    /// Supplies the credentials for each login (called again on every re-login, so a rotated password is picked
    /// up). Never logged. <see cref="UseCredentials"/> sets a fixed pair.
    /// </summary>
    public Func<CancellationToken, ValueTask<XenCredentials>>? CredentialsProvider { get; set; }

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
    /// SHA-256 thumbprints (hex, colons allowed) of server certificates to accept even when the chain does not
    /// validate, for hosts with self-signed certificates. Certificates are validated normally otherwise.
    /// </summary>
    public IList<string> PinnedCertificateThumbprints { get; } = [];

    /// <summary>How long one call may take.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one <c>event.from</c> long poll waits on the server.</summary>
    public TimeSpan EventPollTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the driver waits for an asynchronous task (VM.start and friends).</summary>
    public TimeSpan TaskTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The originator string sent at login (shown in xapi's session list).</summary>
    public string Originator { get; set; } = "hypervisors-sdk";

    /// <summary>Decoder bounds.</summary>
    public XmlRpcLimits Limits { get; set; } = XmlRpcLimits.Default;

    /// <summary>Uses a fixed user name and password.</summary>
    public XenDriverOptions UseCredentials(string userName, string password)
    {
        var credentials = new XenCredentials(userName, password);
        CredentialsProvider = _ => ValueTask.FromResult(credentials);
        return this;
    }

    internal void Validate()
    {
        if (Url is null || !Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
        {
            throw new InvalidSpecException("XenDriverOptions.Url", "must be an absolute http or https URL.");
        }

        if (CredentialsProvider is null)
        {
            throw new InvalidSpecException("XenDriverOptions.CredentialsProvider", "must be set (UseCredentials sets a fixed pair).");
        }

        if (!Enum.IsDefined(Transport))
        {
            throw new InvalidSpecException("XenDriverOptions.Transport", $"'{Transport}' is not a transport.");
        }

        if (RequestTimeout <= TimeSpan.Zero || EventPollTimeout <= TimeSpan.Zero || TaskTimeout <= TimeSpan.Zero)
        {
            throw new InvalidSpecException("XenDriverOptions", "timeouts must be positive.");
        }
    }
}
