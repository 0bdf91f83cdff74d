using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hypervisors;

/// <summary>
/// The one encoding of the <see cref="InstanceSpec"/> a driver stores with an instance (in libvirt's domain
/// metadata, a VM's <c>extraConfig</c> or <c>other_config</c>, Hyper-V's notes), so a repeated create can be told
/// from a conflicting one. The text is versioned JSON, <c>{"version":1,"spec":{...}}</c>, written from every public
/// property of <see cref="InstanceSpec"/> (a property added to the spec is stored without any driver change), with
/// metadata in ordinal key order so equal specs give equal text. Whether a repeat is the same request is
/// <see cref="InstanceSpec.Equals(InstanceSpec?)"/> on the decoded spec; no driver compares fields itself.
/// </summary>
public static class InstanceSpecEnvelope
{
    /// <summary>The version this build writes; it reads this one and every earlier one.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The spec as envelope text.</summary>
    public static string Serialize(InstanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var canonical = spec with
        {
            Metadata = new SortedDictionary<string, string>(spec.Metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), StringComparer.Ordinal),
        };
        return JsonSerializer.Serialize(new Envelope(CurrentVersion, canonical), InstanceSpecJsonContext.Default.Envelope);
    }

    /// <summary>Reads envelope text.</summary>
    /// <exception cref="FormatException">The text is not an envelope, or one of a version this build does not know.</exception>
    public static InstanceSpec Deserialize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Envelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize(text, InstanceSpecJsonContext.Default.Envelope);
        }
        catch (JsonException ex)
        {
            throw new FormatException("The stored instance spec is not a spec envelope: " + ex.Message, ex);
        }

        if (envelope is null || envelope.Spec is null)
        {
            throw new FormatException("The stored instance spec is empty.");
        }

        if (envelope.Version is < 1 or > CurrentVersion)
        {
            throw new FormatException($"The stored instance spec has version {envelope.Version}; this build reads versions 1 to {CurrentVersion}.");
        }

        var spec = envelope.Spec;
        return spec with
        {
            Metadata = spec.Metadata is Dictionary<string, string> { Comparer: var comparer } && comparer == StringComparer.Ordinal
                ? spec.Metadata
                : spec.Metadata.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
        };
    }

    /// <summary>Reads envelope text; false (and no exception) when it is missing, malformed or of an unknown version.</summary>
    public static bool TryDeserialize([NotNullWhen(true)] string? text, [NotNullWhen(true)] out InstanceSpec? spec)
    {
        spec = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        try
        {
            spec = Deserialize(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// A short stable digest of the spec (lower-case hex SHA-256 of <see cref="Serialize"/>), for stores with little
    /// room: equal specs give equal fingerprints.
    /// </summary>
    public static string Fingerprint(InstanceSpec spec) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Serialize(spec))));

    internal sealed record Envelope(int Version, InstanceSpec? Spec);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InstanceSpecEnvelope.Envelope))]
internal sealed partial class InstanceSpecJsonContext : JsonSerializerContext;
