using System.Net;

namespace Hypervisors.Images;

/// <summary>
/// Where an instance's disk image comes from, in the one syntax the library, the agent and hvctl share:
/// <list type="bullet">
/// <item><c>glance:&lt;image-id&gt;</c>: an image of the configured Glance v2 endpoint;</item>
/// <item><c>https://host/path#sha256=&lt;hex&gt;</c> (or <c>#sha384=</c>, <c>#sha512=</c>): a download whose digest is required
/// (plain <c>http://</c> only to a loopback host);</item>
/// <item>anything else: a file name or absolute path inside the operator's allowed image directories.</item>
/// </list>
/// </summary>
public abstract record ImageReference
{
    private protected ImageReference(string text) => Text = text;

    /// <summary>The reference as written.</summary>
    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; throws <see cref="InvalidImageReferenceException"/> when it is malformed.</summary>
    public static ImageReference Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 4096 || text.Any(char.IsControl))
        {
            throw new InvalidImageReferenceException(text ?? string.Empty, "an image reference must be 1-4096 printable characters.");
        }

        if (text.StartsWith(GlanceImageReference.Scheme, StringComparison.Ordinal))
        {
            var id = text[GlanceImageReference.Scheme.Length..];
            return Guid.TryParseExact(id, "D", out var imageId)
                ? new GlanceImageReference(text, imageId)
                : throw new InvalidImageReferenceException(text, "a Glance image id is a UUID (glance:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).");
        }

        if (text.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            return ParseDownload(text);
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (colon > 0 && (slash < 0 || colon < slash))
        {
            throw new InvalidImageReferenceException(text, $"unknown scheme '{text[..colon]}'; use glance:<id>, https://...#sha256=<hex>, or a file in an allowed image directory.");
        }

        return new HostFileImageReference(text);
    }

    private static DownloadImageReference ParseDownload(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            throw new InvalidImageReferenceException(Redact(text), "not a valid absolute URL without credentials.");
        }

        if (uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri))
        {
            throw new InvalidImageReferenceException(text, "plain http is allowed only to a loopback host; use https.");
        }

        var fragment = uri.Fragment.TrimStart('#');
        var equals = fragment.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || !ImageDigest.TryCreate(fragment[..equals], fragment[(equals + 1)..], out var digest) || digest!.Algorithm == "md5")
        {
            throw new InvalidImageReferenceException(text, "a download needs its digest in the fragment: #sha256=<hex>, #sha384=<hex> or #sha512=<hex>.");
        }

        var location = new UriBuilder(uri) { Fragment = string.Empty }.Uri;
        return new DownloadImageReference(text, location, digest);
    }

    /// <summary>Whether the URL's host is a loopback name or address.</summary>
    public static bool IsLoopback(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
    }

    private static string Redact(string text)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? text : "<url with credentials>";
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>An image of the configured Glance endpoint.</summary>
public sealed record GlanceImageReference : ImageReference
{
    /// <summary>The reference's prefix.</summary>
    public const string Scheme = "glance:";

    internal GlanceImageReference(string text, Guid imageId)
        : base(text) => ImageId = imageId;

    /// <summary>The Glance image id.</summary>
    public Guid ImageId { get; }
}

/// <summary>An image downloaded over HTTPS and verified against the digest in its reference.</summary>
public sealed record DownloadImageReference : ImageReference
{
    internal DownloadImageReference(string text, Uri location, ImageDigest digest)
        : base(text)
    {
        Location = location;
        Digest = digest;
    }

    /// <summary>The URL without its fragment.</summary>
    public Uri Location { get; }

    /// <summary>The digest the bytes must have.</summary>
    public ImageDigest Digest { get; }
}

/// <summary>A file name or absolute path, valid only inside the operator's allowed image directories.</summary>
public sealed record HostFileImageReference : ImageReference
{
    internal HostFileImageReference(string text)
        : base(text)
    {
    }
}
