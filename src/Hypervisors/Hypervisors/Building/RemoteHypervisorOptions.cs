using System.Net;

namespace Hypervisors;

/// <summary>
/// The settings every driver for a remote management endpoint shares (ESX/vCenter, XenAPI, Hyper-V WinRM), with the
/// same configuration keys in each: <c>Url</c>, <c>UserName</c>, <c>PasswordFile</c> (or <c>Password</c>) and
/// <c>Tls:PinnedSha256Thumbprints</c>. Secrets are never logged; a password file is read again at every login, so
/// a rotated password is picked up without a restart.
/// </summary>
public abstract class RemoteHypervisorOptions : IValidatableOptions
{
    /// <summary>The endpoint (an absolute http or https URL).</summary>
    public Uri? Url { get; set; }

    /// <summary>The user name to log in with.</summary>
    public string? UserName { get; set; }

    /// <summary>
    /// The password. Prefer <see cref="PasswordFile"/>: a value here sits in configuration (and its providers, such as
    /// environment variables). Give one of the two, not both.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>
    /// A file holding the password (a mounted secret, a systemd credential): its content, without a trailing line
    /// break, read at every login.
    /// </summary>
    public string? PasswordFile { get; set; }

    /// <summary>
    /// Supplies the credentials from code instead (a secret store); takes precedence over <see cref="UserName"/>,
    /// <see cref="Password"/> and <see cref="PasswordFile"/>. Not bindable from configuration.
    /// </summary>
    public Func<CancellationToken, ValueTask<NetworkCredential>>? CredentialProvider { get; set; }

    /// <summary>The endpoint's certificate check.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>Whether <see cref="Url"/> must be given (a driver that can build it from other settings says false).</summary>
    protected virtual bool RequiresUrl => true;

    /// <summary>The credentials for the next login: from <see cref="CredentialProvider"/>, else the user name with the password or the file's content.</summary>
    /// <exception cref="HypervisorAuthenticationException">The password file cannot be read.</exception>
    public async ValueTask<NetworkCredential> GetCredentialAsync(CancellationToken cancellationToken)
    {
        if (CredentialProvider is { } provider)
        {
            return await provider(cancellationToken).ConfigureAwait(false);
        }

        if (PasswordFile is { } file)
        {
            string content;
            try
            {
                content = await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new HypervisorAuthenticationException($"The password file '{file}' cannot be read: {ex.Message}", ex);
            }

            return new NetworkCredential(UserName, content.TrimEnd('\r', '\n'));
        }

        return new NetworkCredential(UserName, Password);
    }

    /// <summary>
    /// What is wrong with the shared settings, each message starting with its configuration key under
    /// <paramref name="keyPrefix"/>; a driver's own validation adds its settings.
    /// </summary>
    public virtual IEnumerable<string> Validate(string keyPrefix)
    {
        if (Url is null)
        {
            if (RequiresUrl)
            {
                yield return $"{keyPrefix}:{nameof(Url)}: is required.";
            }
        }
        else if (!Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttps && Url.Scheme != Uri.UriSchemeHttp))
        {
            yield return $"{keyPrefix}:{nameof(Url)}: '{Url}' is not an absolute http or https URL.";
        }

        if (CredentialProvider is null)
        {
            if (string.IsNullOrEmpty(UserName))
            {
                yield return $"{keyPrefix}:{nameof(UserName)}: is required.";
            }

            if (Password is not null && PasswordFile is not null)
            {
                yield return $"{keyPrefix}:{nameof(PasswordFile)}: give {nameof(Password)} or {nameof(PasswordFile)}, not both.";
            }
            else if (Password is null && PasswordFile is null)
            {
                yield return $"{keyPrefix}:{nameof(PasswordFile)}: is required (or {nameof(Password)}).";
            }
            else if (PasswordFile is not null && !File.Exists(PasswordFile))
            {
                yield return $"{keyPrefix}:{nameof(PasswordFile)}: the file '{PasswordFile}' does not exist.";
            }
        }

        foreach (var failure in (Tls ?? new TlsOptions()).Validate(keyPrefix + ":" + nameof(Tls)))
        {
            yield return failure;
        }
    }
}

/// <summary>Fluent helpers for <see cref="RemoteHypervisorOptions"/>.</summary>
public static class RemoteHypervisorOptionsExtensions
{
    /// <summary>Sets a fixed user name and password (code and tests; configuration binds the properties) and returns the options.</summary>
    public static TOptions UseCredentials<TOptions>(this TOptions options, string userName, string password)
        where TOptions : RemoteHypervisorOptions
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(userName);
        ArgumentNullException.ThrowIfNull(password);
        options.UserName = userName;
        options.Password = password;
        options.PasswordFile = null;
        return options;
    }
}
