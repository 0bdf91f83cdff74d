using System.Net;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

/// <summary>How <see cref="HyperVDriver"/> reaches and drives one Hyper-V host.</summary>
public sealed class HyperVDriverOptions
{
    /// <summary>The WinRM endpoint in full (<c>https://host:5986/wsman</c>); when null it is built from <see cref="Host"/>.</summary>
    public Uri? Url { get; set; }

    /// <summary>The host name or address, used when <see cref="Url"/> is null.</summary>
    public string? Host { get; set; }

    /// <summary>HTTPS on 5986 (default) or HTTP on 5985 (WinRM's AllowUnencrypted must then be on, and Basic credentials cross in clear).</summary>
    public bool UseHttps { get; set; } = true;

    /// <summary>The port, when not WinRM's default for the scheme.</summary>
    public int? Port { get; set; }

    /// <summary>Fixed credentials; <see cref="CredentialProvider"/> takes precedence when set. Never logged.</summary>
    public NetworkCredential? Credentials { get; set; }

    /// <summary>Supplies credentials per request (a secret store, a rotating token); never logged.</summary>
    public Func<CancellationToken, ValueTask<NetworkCredential>>? CredentialProvider { get; set; }

    /// <summary>Basic (default) or Negotiate through the platform's HttpClient support.</summary>
    public WsManAuthentication Authentication { get; set; } = WsManAuthentication.Basic;

    /// <summary>
    /// Accept the server certificate when its SHA-1 (as Windows shows it) or SHA-256 thumbprint equals this hex string,
    /// whatever its chain. Null (default) validates the chain and name normally.
    /// </summary>
    public string? PinnedCertificateThumbprint { get; set; }

    /// <summary>Virtual machine generation, 1 or 2 (VirtualSystemSubType Microsoft:Hyper-V:SubType:N).</summary>
    public int Generation { get; set; } = 2;

    /// <summary>The host directory where the driver creates VHDX files, one sub-directory per instance.</summary>
    public string DiskDirectory { get; set; } = @"C:\ProgramData\Hypervisors\Disks";

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

    internal Uri ResolveEndpoint()
    {
        if (Url is not null)
        {
            return Url;
        }

        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new InvalidSpecException("options.Host", "set Url or Host.");
        }

        return new UriBuilder(UseHttps ? Uri.UriSchemeHttps : Uri.UriSchemeHttp, Host, Port ?? (UseHttps ? 5986 : 5985), "/wsman").Uri;
    }
}
