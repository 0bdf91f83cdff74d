using System.Net;

namespace Hypervisors.Esx.Wire;

/// <summary>Supplies the user name and password for <c>SessionManager.Login</c>; asked again at each re-login.</summary>
public interface IEsxCredentialProvider
{
    /// <summary>Returns the credentials to log in with.</summary>
    ValueTask<NetworkCredential> GetCredentialAsync(CancellationToken cancellationToken);
}

/// <summary>Credentials from a delegate (a secret store lookup, a fixed pair for tests).</summary>
/// <param name="get">Returns the credentials.</param>
public sealed class DelegateCredentialProvider(Func<CancellationToken, ValueTask<NetworkCredential>> get) : IEsxCredentialProvider
{
    /// <summary>A provider that always returns the same user name and password.</summary>
    public static DelegateCredentialProvider Fixed(string userName, string password) =>
        new(_ => ValueTask.FromResult(new NetworkCredential(userName, password)));

    /// <inheritdoc />
    public ValueTask<NetworkCredential> GetCredentialAsync(CancellationToken cancellationToken) => get(cancellationToken);
}

/// <summary>Transport settings of <see cref="VimClient"/>.</summary>
public sealed record VimClientOptions
{
    /// <summary>The SDK endpoint, e.g. <c>https://esx.example/sdk</c>.</summary>
    public required Uri SdkUrl { get; init; }

    /// <summary>Where the credentials come from.</summary>
    public required IEsxCredentialProvider Credentials { get; init; }

    /// <summary>
    /// SHA-256 (64 hex digits) or SHA-1 (40 hex digits) thumbprints of server certificates to trust even though
    /// they do not chain to a trusted root (a self-signed host). Colons and case are ignored. When any is given,
    /// only a certificate with a listed thumbprint is accepted.
    /// </summary>
    public IReadOnlyList<string> TrustedThumbprints { get; init; } = [];

    /// <summary>The vim25 API version sent in <c>SOAPAction</c>.</summary>
    public string ApiVersion { get; init; } = "6.5";

    /// <summary>The longest a single call may take (long polls add their own wait to it).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The largest response accepted, in bytes.</summary>
    public long MaxResponseBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Objects per page of <c>RetrievePropertiesEx</c>.</summary>
    public int PageSize { get; init; } = 1000;
}
