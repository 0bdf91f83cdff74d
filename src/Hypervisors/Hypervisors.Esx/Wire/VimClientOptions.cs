using System.Net;

namespace Hypervisors.Esx.Wire;

/// <summary>Transport settings of <see cref="VimClient"/>.</summary>
internal sealed record VimClientOptions
{
    /// <summary>The SDK endpoint, e.g. <c>https://esx.example/sdk</c>.</summary>
    public required Uri SdkUrl { get; init; }

    /// <summary>Supplies the user name and password at each login (asked again at every re-login).</summary>
    public required Func<CancellationToken, ValueTask<NetworkCredential>> Credentials { get; init; }

    /// <summary>The server certificate check (validated by default; SHA-256 pins for self-signed hosts).</summary>
    public TlsOptions Tls { get; init; } = new();

    /// <summary>The vim25 API version sent in <c>SOAPAction</c>.</summary>
    public string ApiVersion { get; init; } = "6.5";

    /// <summary>The longest a single call may take (long polls add their own wait to it).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The largest response accepted, in bytes.</summary>
    public long MaxResponseBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Objects per page of <c>RetrievePropertiesEx</c>.</summary>
    public int PageSize { get; init; } = 1000;

    /// <summary>Fixed credentials (tests and samples).</summary>
    public static Func<CancellationToken, ValueTask<NetworkCredential>> FixedCredentials(string userName, string password)
    {
        var credential = new NetworkCredential(userName, password);
        return _ => ValueTask.FromResult(credential);
    }
}
