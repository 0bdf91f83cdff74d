namespace XenApiSimulator.Model;

/// <summary>
/// One object of the simulated database: its class (XenAPI's spelling, e.g. "VM", "host_metrics"), reference and
/// fields. Field values are replaced, never mutated in place, so a shallow copy of <see cref="Fields"/> is a
/// consistent snapshot that can be encoded outside the database lock.
/// </summary>
public sealed class SimObject(string xenClass, string reference, Dictionary<string, object?> fields)
{
    public string Class { get; } = xenClass;

    public string Ref { get; } = reference;

    public Dictionary<string, object?> Fields { get; } = fields;

    public string Uuid => (string)Fields["uuid"]!;

    public object? this[string field]
    {
        get => Fields[field];
        set => Fields[field] = value;
    }

    public string Text(string field) => Fields.TryGetValue(field, out var v) ? v as string ?? string.Empty : string.Empty;

    public long Long(string field) => Hypervisors.Xen.Wire.XenValue.ToInt64(Fields[field]);

    public bool Bool(string field) => Fields.TryGetValue(field, out var v) && v is true;

    public string[] Refs(string field) => Fields.TryGetValue(field, out var v) && v is string[] refs ? refs : [];

    public Dictionary<string, string> Map(string field) =>
        Fields.TryGetValue(field, out var v) && v is Dictionary<string, string> map ? map : [];

    public Dictionary<string, object?> Snapshot() => new(Fields, StringComparer.Ordinal);
}
