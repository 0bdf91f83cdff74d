using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hypervisors.Uml;

/// <summary>A disk made with the instance: ubd index, and its files.</summary>
/// <param name="Index">The ubd unit (0 = ubda).</param>
/// <param name="SizeGiB">The size asked for.</param>
/// <param name="ImageRef">The base image the spec named, or null for a blank disk.</param>
/// <param name="Backing">The read-only image under the COW file, or null when the disk is a plain file.</param>
/// <param name="File">The writable file: the COW layer over <paramref name="Backing"/>, or the plain disk.</param>
internal sealed record UmlDisk(int Index, long SizeGiB, string? ImageRef, string? Backing, string File)
{
    public string Device => UmlDevices.UbdName(Index);
}

/// <summary>An attached volume: its ubd index and host file.</summary>
internal sealed record UmlVolume(string VolumeId, string Source, bool ReadOnly, int Index)
{
    public string Device => UmlDevices.UbdName(Index);
}

/// <summary>A network interface: the vector device index, its MAC, network and tap device.</summary>
internal sealed record UmlInterface(string MacAddress, string Network, int Index, string Tap)
{
    public string Device => "vec" + Index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A snapshot: for each disk, the image holding its content when it was taken.</summary>
internal sealed record UmlSnapshot(string SnapshotId, string Name, DateTimeOffset CreatedAt, PowerState PowerState, IReadOnlyDictionary<int, string> Images);

/// <summary>What the driver keeps about an instance in <c>instances/{id}/instance.json</c>; replaced atomically on each change.</summary>
internal sealed record UmlInstanceRecord
{
    /// <summary>The spec as created, stored as the SDK's versioned spec envelope.</summary>
    [JsonConverter(typeof(SpecEnvelopeConverter))]
    public required InstanceSpec Spec { get; init; }

    public IReadOnlyList<UmlDisk> Disks { get; init; } = [];

    public IReadOnlyList<UmlVolume> Volumes { get; init; } = [];

    public IReadOnlyList<UmlInterface> Interfaces { get; init; } = [];

    public IReadOnlyList<UmlSnapshot> Snapshots { get; init; } = [];

    /// <summary>Whether the guest was stopped with mconsole <c>stop</c> (the kernel does not say so itself).</summary>
    public bool Paused { get; init; }

    /// <summary>Whether the guest's last run ended in a panic or an unexpected exit.</summary>
    public bool Crashed { get; init; }

    public int NextSnapshotNumber { get; init; } = 1;
}

/// <summary>Reads and writes instance records.</summary>
internal static class UmlRecordStore
{
    public const string FileName = "instance.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static async Task SaveAsync(string directory, UmlInstanceRecord record, CancellationToken cancellationToken)
    {
        Hypervisors.Counting.FlowCallCounter.Record("record write");
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, record, Json, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    public static UmlInstanceRecord? Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<UmlInstanceRecord>(stream, Json);
    }
}

/// <summary>Writes a spec as <see cref="InstanceSpecEnvelope"/> JSON and reads it back.</summary>
internal sealed class SpecEnvelopeConverter : JsonConverter<InstanceSpec>
{
    public override InstanceSpec Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        try
        {
            return InstanceSpecEnvelope.Deserialize(document.RootElement.GetRawText());
        }
        catch (FormatException ex)
        {
            throw new JsonException(ex.Message, ex);
        }
    }

    public override void Write(Utf8JsonWriter writer, InstanceSpec value, JsonSerializerOptions options) =>
        writer.WriteRawValue(InstanceSpecEnvelope.Serialize(value));
}

/// <summary>Device names.</summary>
internal static class UmlDevices
{
    /// <summary>The kernel allows 16 ubd units.</summary>
    public const int MaxUbd = 16;

    /// <summary>The guest's name for ubd unit <paramref name="index"/>: ubda, ubdb, ...</summary>
    public static string UbdName(int index) => "ubd" + (char)('a' + index);
}
