using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Hypervisors;

/// <summary>
/// How a driver checks its endpoint's TLS certificate; the same type and the same configuration keys
/// (<c>Tls:PinnedSha256Thumbprints</c>) in every driver. Certificates are validated by default (chain and host name).
/// Pinning is for hosts with a self-signed certificate: when <see cref="PinnedSha256Thumbprints"/> lists any, the
/// server's certificate must have one of those SHA-256 thumbprints, and then its chain is not consulted. There is no
/// switch that turns checking off.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>
    /// SHA-256 thumbprints of the certificates to accept (64 hex digits; case, colons, spaces and dashes are
    /// ignored, so <c>openssl x509 -fingerprint -sha256</c> output can be pasted). Empty: validate normally.
    /// </summary>
    public IList<string> PinnedSha256Thumbprints { get; set; } = [];

    /// <summary>
    /// What is wrong with these options, each message starting with the configuration key under
    /// <paramref name="keyPrefix"/> (for example <c>Hypervisors:Esx:vc1:Tls</c>); empty when they are valid.
    /// </summary>
    public IEnumerable<string> Validate(string keyPrefix)
    {
        for (var i = 0; i < PinnedSha256Thumbprints.Count; i++)
        {
            if (!TryNormalize(PinnedSha256Thumbprints[i], out _))
            {
                yield return $"{keyPrefix}:{nameof(PinnedSha256Thumbprints)}:{i}: '{PinnedSha256Thumbprints[i]}' is not a SHA-256 thumbprint (64 hex digits).";
            }
        }
    }

    /// <summary>
    /// Sets <paramref name="handler"/>'s certificate check from these options. <paramref name="onRefused"/> receives the
    /// SHA-256 thumbprint of each certificate refused, for an error message that tells the operator what to pin.
    /// </summary>
    /// <exception cref="FormatException">A pin is not a SHA-256 thumbprint (options validation reports this at start).</exception>
    public void ApplyTo(SocketsHttpHandler handler, Action<string>? onRefused = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var callback = CreateValidationCallback(onRefused);
        handler.SslOptions ??= new SslClientAuthenticationOptions();
        handler.SslOptions.RemoteCertificateValidationCallback = callback;
    }

    /// <summary>The certificate check as a callback, for transports other than <see cref="SocketsHttpHandler"/>.</summary>
    /// <exception cref="FormatException">A pin is not a SHA-256 thumbprint.</exception>
    public RemoteCertificateValidationCallback CreateValidationCallback(Action<string>? onRefused = null)
    {
        var pins = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pin in PinnedSha256Thumbprints)
        {
            pins.Add(TryNormalize(pin, out var hex) ? hex : throw new FormatException($"'{pin}' is not a SHA-256 thumbprint (64 hex digits)."));
        }

        return (_, certificate, _, errors) =>
        {
            if (IsAccepted(certificate, errors, pins))
            {
                return true;
            }

            if (certificate is not null)
            {
                onRefused?.Invoke(Sha256Thumbprint(certificate));
            }

            return false;
        };
    }

    /// <summary>The SHA-256 thumbprint of <paramref name="certificate"/> as upper-case hex.</summary>
    public static string Sha256Thumbprint(X509Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.GetCertHashString(HashAlgorithmName.SHA256);
    }

    /// <summary>Normalizes a thumbprint to 64 upper-case hex digits; false when it is not a SHA-256 thumbprint.</summary>
    public static bool TryNormalize(string? thumbprint, out string normalized)
    {
        normalized = string.Empty;
        if (thumbprint is null)
        {
            return false;
        }

        var digits = new char[64];
        var count = 0;
        foreach (var c in thumbprint)
        {
            if (c is ':' or ' ' or '-')
            {
                continue;
            }

            if (!char.IsAsciiHexDigit(c) || count == digits.Length)
            {
                return false;
            }

            digits[count++] = char.ToUpperInvariant(c);
        }

        if (count != digits.Length)
        {
            return false;
        }

        normalized = new string(digits);
        return true;
    }

    private static bool IsAccepted(X509Certificate? certificate, SslPolicyErrors errors, HashSet<string> pins)
    {
        if (pins.Count == 0)
        {
            return errors == SslPolicyErrors.None;
        }

        return certificate is not null && pins.Contains(Sha256Thumbprint(certificate));
    }
}
