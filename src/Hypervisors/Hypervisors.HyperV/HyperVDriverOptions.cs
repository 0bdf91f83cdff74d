using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

/// <summary>
/// How <see cref="HyperVDriver"/> reaches and drives one Hyper-V host, bindable from configuration (see
/// <see cref="HyperVHypervisorsBuilderExtensions.AddHyperV(HypervisorsBuilder, string, Microsoft.Extensions.Configuration.IConfigurationSection)"/>).
/// <see cref="RemoteHypervisorOptions.Url"/> is the WinRM endpoint in full (<c>https://host:5986/wsman</c>); when it
/// is null the endpoint is built from <see cref="Host"/>. Credentials (<c>UserName</c>, <c>PasswordFile</c> or
/// <c>Password</c>) are never logged; <c>Tls:PinnedSha256Thumbprints</c> pins a self-signed host's certificate.
/// </summary>
public sealed class HyperVDriverOptions : RemoteHypervisorOptions
{

    /// <summary>The host name or address, used when <see cref="RemoteHypervisorOptions.Url"/> is null.</summary>
    public string? Host { get; set; }

    /// <summary>HTTPS on 5986 (default) or HTTP on 5985 (WinRM's AllowUnencrypted must then be on, and Basic credentials cross in clear).</summary>
    public bool UseHttps { get; set; } = true;

    /// <summary>The port, when not WinRM's default for the scheme.</summary>
    public int? Port { get; set; }

    /// <summary>Basic (default) or Negotiate through the platform's HttpClient support.</summary>
    public WsManAuthentication Authentication { get; set; } = WsManAuthentication.Basic;

    /// <summary>Virtual machine generation, 1 or 2 (VirtualSystemSubType Microsoft:Hyper-V:SubType:N).</summary>
    public int Generation { get; set; } = 2;

    /// <summary>The host directory where the driver creates VHDX files, one sub-directory per instance.</summary>
    public string DiskDirectory { get; set; } = @"C:\ProgramData\Hypervisors\Disks";

    /// <summary>
    /// Where VHDX images of this machine go so that Hyper-V can open them (see <see cref="HyperVImageShareOptions"/>).
    /// Null: a disk's <see cref="DiskSpec.ImageRef"/> must be a path on the Hyper-V host.
    /// </summary>
    public HyperVImageShareOptions? ImageShare { get; set; }

    /// <summary>
    /// The directories of this machine whose VHDX images may be named as <see cref="DiskSpec.ImageRef"/>; such a file
    /// is copied into <see cref="ImageShare"/> once. Empty allows none besides the verified entries of an image cache
    /// registered with the driver's <see cref="HostPathPolicy"/>.
    /// </summary>
    public IList<string> AllowedHostDirectories { get; } = [];

    /// <summary>The host volume reported as local instance storage (Win32_LogicalDisk.DeviceID).</summary>
    public string StorageVolume { get; set; } = "C:";

    /// <summary>How long to wait for a Msvm_ConcreteJob before giving up with <see cref="HypervisorTimeoutException"/>.</summary>
    public TimeSpan JobTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest pause between two polls of a running job (polls start at 10 ms and back off to this).</summary>
    public TimeSpan JobPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often the VM list is polled for changes made outside the driver while anyone watches events.</summary>
    public TimeSpan EventPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The server-side WS-Man operation timeout.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The client-side limit for one HTTP exchange.</summary>
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The largest response accepted, in bytes.</summary>
    public int MaxResponseBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>For tests: the handler HTTP requests go through instead of a <see cref="SocketsHttpHandler"/>.</summary>
    public HttpMessageHandler? HttpMessageHandler { get; set; }

    /// <inheritdoc />
    protected override bool RequiresUrl => false;

    /// <inheritdoc />
    public override IEnumerable<string> Validate(string keyPrefix)
    {
        foreach (var failure in base.Validate(keyPrefix))
        {
            yield return failure;
        }

        if (Url is null && string.IsNullOrWhiteSpace(Host))
        {
            yield return $"{keyPrefix}:{nameof(Host)}: set {nameof(Host)} or {nameof(Url)}.";
        }

        if (Port is < 1 or > 65535)
        {
            yield return $"{keyPrefix}:{nameof(Port)}: must be between 1 and 65535, was {Port}.";
        }

        if (!Enum.IsDefined(Authentication))
        {
            yield return $"{keyPrefix}:{nameof(Authentication)}: '{Authentication}' is not Basic or Negotiate.";
        }

        if (Generation is not (1 or 2))
        {
            yield return $"{keyPrefix}:{nameof(Generation)}: must be 1 or 2, was {Generation}.";
        }

        foreach (var (key, value) in new[]
        {
            (nameof(JobTimeout), JobTimeout), (nameof(JobPollInterval), JobPollInterval), (nameof(EventPollInterval), EventPollInterval),
            (nameof(OperationTimeout), OperationTimeout), (nameof(HttpTimeout), HttpTimeout),
        })
        {
            if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(1))
            {
                yield return $"{keyPrefix}:{key}: must be positive and at most one day, was {value}.";
            }
        }

        if (MaxResponseBytes < 4096)
        {
            yield return $"{keyPrefix}:{nameof(MaxResponseBytes)}: must be at least 4096, was {MaxResponseBytes}.";
        }

        if (string.IsNullOrWhiteSpace(DiskDirectory))
        {
            yield return $"{keyPrefix}:{nameof(DiskDirectory)}: is required.";
        }

        foreach (var failure in ImageShare?.Validate($"{keyPrefix}:{nameof(ImageShare)}") ?? [])
        {
            yield return failure;
        }

        foreach (var failure in HostPathPolicy.Validate(AllowedHostDirectories, $"{keyPrefix}:{nameof(AllowedHostDirectories)}"))
        {
            yield return failure;
        }

        if (AllowedHostDirectories.Count > 0 && ImageShare is null)
        {
            yield return $"{keyPrefix}:{nameof(AllowedHostDirectories)}: images of this machine need {nameof(ImageShare)}, where they are copied for Hyper-V to open.";
        }
    }

    internal Uri ResolveEndpoint() =>
        Url ?? new UriBuilder(UseHttps ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Host, Port ?? (UseHttps ? 5986 : 5985), "/wsman").Uri;
}
