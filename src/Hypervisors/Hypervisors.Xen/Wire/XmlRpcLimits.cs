namespace Hypervisors.Xen.Wire;

/// <summary>Bounds applied to every decoded XML-RPC or JSON-RPC message.</summary>
public sealed record XmlRpcLimits
{
    /// <summary>The defaults: 256 Mi characters per document, 64 levels of nesting, 16 Mi characters per string.</summary>
    public static XmlRpcLimits Default { get; } = new();

    /// <summary>Most characters (or bytes, for JSON) in one document.</summary>
    public long MaxDocumentCharacters { get; init; } = 256L * 1024 * 1024;

    /// <summary>Most nested structs and arrays.</summary>
    public int MaxDepth { get; init; } = 64;

    /// <summary>Most characters in one string, member name or base64 value.</summary>
    public int MaxStringLength { get; init; } = 16 * 1024 * 1024;
}
