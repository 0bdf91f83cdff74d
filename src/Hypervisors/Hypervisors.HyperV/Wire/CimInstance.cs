namespace Hypervisors.HyperV.Wire;

/// <summary>
/// A CIM instance (or a method's output) as WS-Man returned it: each property holds zero or more values, each a
/// string, an <see cref="EndpointReference"/>, or null for <c>xsi:nil</c>.
/// </summary>
internal sealed class CimInstance(string className, IReadOnlyDictionary<string, IReadOnlyList<object?>> properties)
{
    /// <summary>The class name (the element's local name).</summary>
    public string ClassName { get; } = className;

    /// <summary>Every property by name, case-insensitively.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<object?>> Properties { get; } = properties;

    /// <summary>The scalar string value of <paramref name="name"/>, or null when absent or nil.</summary>
    public string? this[string name] => Properties.TryGetValue(name, out var values) && values.Count > 0 ? values[0] as string : null;

    /// <summary>Every string value of the array property <paramref name="name"/>.</summary>
    public IReadOnlyList<string> GetArray(string name) =>
        Properties.TryGetValue(name, out var values) ? values.OfType<string>().ToList() : [];

    /// <summary>The reference held by <paramref name="name"/>, or null.</summary>
    public EndpointReference? GetReference(string name) =>
        Properties.TryGetValue(name, out var values) ? values.OfType<EndpointReference>().FirstOrDefault() : null;

    /// <summary>Every reference held by the array property <paramref name="name"/>.</summary>
    public IReadOnlyList<EndpointReference> GetReferences(string name) =>
        Properties.TryGetValue(name, out var values) ? values.OfType<EndpointReference>().ToList() : [];

    /// <summary>The property parsed as an unsigned integer, or null when absent, nil or not a number.</summary>
    public ulong? GetUInt64(string name) =>
        ulong.TryParse(this[name], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;
}
