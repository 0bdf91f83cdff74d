using System.Text.Json.Serialization;

namespace Hypervisors.Images.Glance;

/// <summary>The fields of a Glance v2 image record that fetching and verifying need.</summary>
public sealed record GlanceImage
{
    /// <summary>The image id.</summary>
    [JsonPropertyName("id")]
    public Guid Id { get; init; }

    /// <summary>The display name.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>queued, saving, uploading, importing, active, killed, deleted, deactivated, pending_delete.</summary>
    [JsonPropertyName("status")]
    public string Status { get; init; } = string.Empty;

    /// <summary>raw, qcow2, vmdk, vhdx, vdi, iso, ... (a claim: the cache probes the bytes itself).</summary>
    [JsonPropertyName("disk_format")]
    public string? DiskFormat { get; init; }

    /// <summary>bare, ovf, ova, ... : the wrapping around the disk.</summary>
    [JsonPropertyName("container_format")]
    public string? ContainerFormat { get; init; }

    /// <summary>The size of the image data in bytes.</summary>
    [JsonPropertyName("size")]
    public long? Size { get; init; }

    /// <summary>The virtual size of the disk in bytes, where Glance computed it.</summary>
    [JsonPropertyName("virtual_size")]
    public long? VirtualSize { get; init; }

    /// <summary>The legacy MD5 checksum of the data (hex).</summary>
    [JsonPropertyName("checksum")]
    public string? Checksum { get; init; }

    /// <summary>The algorithm of <see cref="OsHashValue"/> (sha512 by default).</summary>
    [JsonPropertyName("os_hash_algo")]
    public string? OsHashAlgo { get; init; }

    /// <summary>The multihash of the data (hex).</summary>
    [JsonPropertyName("os_hash_value")]
    public string? OsHashValue { get; init; }

    /// <summary>Whether the image can be downloaded.</summary>
    public bool IsActive => string.Equals(Status, "active", StringComparison.Ordinal);
}

/// <summary>What <see cref="GlanceClient.CreateImageAsync"/> sends: the record of an image before its data.</summary>
/// <param name="Name">The display name.</param>
/// <param name="DiskFormat">raw, qcow2, vmdk, vhdx, vdi, ...</param>
/// <param name="ContainerFormat">bare, ovf, ova.</param>
public sealed record GlanceImageCreate(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("disk_format")] string DiskFormat,
    [property: JsonPropertyName("container_format")] string ContainerFormat = "bare");

[JsonSerializable(typeof(GlanceImage))]
[JsonSerializable(typeof(GlanceImageCreate))]
internal sealed partial class GlanceJsonContext : JsonSerializerContext;
