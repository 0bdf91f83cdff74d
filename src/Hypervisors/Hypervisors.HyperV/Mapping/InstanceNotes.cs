using System.Text.Json;

namespace Hypervisors.HyperV.Mapping;

/// <summary>
/// How the driver marks the VMs it manages: the first entry of Msvm_VirtualSystemSettingData.Notes holds a prefix and
/// the instance's spec as JSON (its id, metadata and the create request, for idempotent creates). ElementName is the
/// instance name; VirtualSystemIdentifier stays Hyper-V's own GUID.
/// </summary>
public static class InstanceNotes
{
    /// <summary>The prefix of the driver's note.</summary>
    public const string Prefix = "hypervisors-sdk/v1:";

    /// <summary>The note for <paramref name="spec"/>.</summary>
    public static string Write(InstanceSpec spec) => Prefix + JsonSerializer.Serialize(spec);

    /// <summary>The spec in <paramref name="notes"/>, or null when the VM is not one of the driver's.</summary>
    public static InstanceSpec? Read(IReadOnlyList<string> notes)
    {
        var note = notes.FirstOrDefault(n => n.StartsWith(Prefix, StringComparison.Ordinal));
        if (note is null)
        {
            return null;
        }

        try
        {
            var spec = JsonSerializer.Deserialize<InstanceSpec>(note.AsSpan(Prefix.Length));
            return spec is { Id: var id } && id != Guid.Empty ? spec : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
