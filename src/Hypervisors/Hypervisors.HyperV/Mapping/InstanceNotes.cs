namespace Hypervisors.HyperV.Mapping;

/// <summary>
/// How the driver marks the VMs it manages: one entry of Msvm_VirtualSystemSettingData.Notes holds a prefix and the
/// instance's spec in the SDK's versioned <see cref="InstanceSpecEnvelope"/> (its id, metadata and the create request,
/// for idempotent creates). ElementName is the instance name; VirtualSystemIdentifier stays Hyper-V's own GUID.
/// </summary>
internal static class InstanceNotes
{
    /// <summary>The prefix of the driver's note.</summary>
    public const string Prefix = "hypervisors-sdk/spec:";

    /// <summary>The note for <paramref name="spec"/>.</summary>
    public static string Write(InstanceSpec spec) => Prefix + InstanceSpecEnvelope.Serialize(spec);

    /// <summary>The spec in <paramref name="notes"/>, or null when the VM is not one of the driver's.</summary>
    public static InstanceSpec? Read(IReadOnlyList<string> notes)
    {
        var note = notes.FirstOrDefault(n => n.StartsWith(Prefix, StringComparison.Ordinal));
        return note is not null && InstanceSpecEnvelope.TryDeserialize(note[Prefix.Length..], out var spec) && spec.Id != Guid.Empty ? spec : null;
    }
}
