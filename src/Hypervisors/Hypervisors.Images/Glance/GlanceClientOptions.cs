namespace Hypervisors.Images.Glance;

/// <summary>Settings of a <see cref="GlanceClient"/>.</summary>
public sealed class GlanceClientOptions
{
    /// <summary>The Glance endpoint, without the version: <c>http://127.0.0.1:9292</c>, <c>https://image.example.org</c>.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>
    /// A file holding the auth token sent as <c>X-Auth-Token</c>, read again for each request so a rotated token is
    /// picked up. An endpoint off loopback needs a token (from here or a token provider); loopback needs none.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>How many times a download broken off mid-stream is resumed with a Range request.</summary>
    public int MaxResumeAttempts { get; set; } = 5;

    /// <summary>The pause before each resume.</summary>
    public TimeSpan ResumeDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The largest image accepted, in bytes.</summary>
    public long MaxImageBytes { get; set; } = 256L * 1024 * 1024 * 1024;
}

/// <summary>Supplies the Glance auth token (a Keystone token, an application credential's token, ...).</summary>
public interface IGlanceTokenProvider
{
    /// <summary>The token to send, or null for none.</summary>
    ValueTask<string?> GetTokenAsync(CancellationToken cancellationToken);
}

/// <summary>Reads the token from a file at each call; the file's surrounding white space is ignored.</summary>
public sealed class FileGlanceTokenProvider(string path) : IGlanceTokenProvider
{
    /// <inheritdoc />
    public async ValueTask<string?> GetTokenAsync(CancellationToken cancellationToken)
    {
        var token = (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim();
        return token.Length == 0 ? null : token;
    }
}
