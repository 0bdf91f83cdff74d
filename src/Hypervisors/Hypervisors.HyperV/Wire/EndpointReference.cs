namespace Hypervisors.HyperV.Wire;

/// <summary>A WS-Addressing endpoint reference to one CIM instance: its resource URI and key selectors.</summary>
/// <param name="ResourceUri">The class's resource URI.</param>
/// <param name="Selectors">The key properties (and optionally <c>__cimnamespace</c>), in order.</param>
internal sealed record EndpointReference(Uri ResourceUri, IReadOnlyList<KeyValuePair<string, string>> Selectors)
{
    /// <summary>The class name: the last segment of the resource URI.</summary>
    public string ClassName => ResourceUri.AbsoluteUri[(ResourceUri.AbsoluteUri.LastIndexOf('/') + 1)..];

    /// <summary>The value of selector <paramref name="name"/>, or null.</summary>
    public string? Selector(string name) => Selectors.FirstOrDefault(s => string.Equals(s.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <inheritdoc />
    public bool Equals(EndpointReference? other) =>
        other is not null && ResourceUri == other.ResourceUri && Selectors.SequenceEqual(other.Selectors);

    /// <inheritdoc />
    public override int GetHashCode() => ResourceUri.GetHashCode();
}
