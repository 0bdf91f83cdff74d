using System.Security.Cryptography;

namespace Hypervisors.Images;

/// <summary>A content digest: the algorithm (sha256, sha384, sha512, or md5 for Glance's legacy checksum) and its lowercase hex value.</summary>
public sealed record ImageDigest
{
    private static readonly Dictionary<string, (HashAlgorithmName Name, int HexLength)> Algorithms = new(StringComparer.Ordinal)
    {
        ["sha256"] = (HashAlgorithmName.SHA256, 64),
        ["sha384"] = (HashAlgorithmName.SHA384, 96),
        ["sha512"] = (HashAlgorithmName.SHA512, 128),
        ["md5"] = (HashAlgorithmName.MD5, 32),
    };

    private ImageDigest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary>"sha256", "sha384", "sha512" or "md5".</summary>
    public string Algorithm { get; }

    /// <summary>The digest in lowercase hex.</summary>
    public string Hex { get; }

    /// <summary>The name of the cache entry for this digest: "sha512-&lt;hex&gt;".</summary>
    public string CacheKey => $"{Algorithm}-{Hex}";

    /// <summary>Whether <paramref name="algorithm"/> is one this type knows.</summary>
    public static bool IsKnownAlgorithm(string algorithm) => Algorithms.ContainsKey(algorithm);

    /// <summary>Parses a digest; false when the algorithm is unknown or the value is not hex of its length.</summary>
    public static bool TryCreate(string algorithm, string hex, out ImageDigest? digest)
    {
        digest = null;
        if (algorithm is null || hex is null || !Algorithms.TryGetValue(algorithm.ToLowerInvariant(), out var known) || hex.Length != known.HexLength
            || !hex.All(char.IsAsciiHexDigit))
        {
            return false;
        }

        digest = new ImageDigest(algorithm.ToLowerInvariant(), hex.ToLowerInvariant());
        return true;
    }

    /// <summary>Parses a cache key ("sha512-&lt;hex&gt;"); false for anything else.</summary>
    public static bool TryParseCacheKey(string key, out ImageDigest? digest)
    {
        digest = null;
        var dash = key?.IndexOf('-', StringComparison.Ordinal) ?? -1;
        return dash > 0 && TryCreate(key![..dash], key[(dash + 1)..], out digest);
    }

    /// <summary>A hash that computes this digest's algorithm incrementally.</summary>
    public IncrementalHash CreateHash() => IncrementalHash.CreateHash(Algorithms[Algorithm].Name);

    /// <summary>Whether <paramref name="computed"/> (raw bytes) equals this digest, compared in constant time.</summary>
    public bool Matches(ReadOnlySpan<byte> computed) =>
        CryptographicOperations.FixedTimeEquals(computed, Convert.FromHexString(Hex));

    /// <inheritdoc />
    public override string ToString() => $"{Algorithm}:{Hex}";
}
