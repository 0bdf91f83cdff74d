namespace Hypervisors.Agent.Client;

/// <summary>An import request: <c>POST /v1/drivers/{driver}/imports</c>.</summary>
public sealed record ImportRequest
{
    /// <summary>The OVA as an image reference (<c>glance:&lt;id&gt;</c>, <c>https://...#sha256=</c>, or an allowed host file).</summary>
    public required string Package { get; init; }

    /// <summary>The deployment option; the descriptor's default when null.</summary>
    public string? DeploymentOption { get; init; }

    /// <summary>The host network for each OVF network.</summary>
    public Dictionary<string, string>? NetworkMapping { get; init; }

    /// <summary>Values of user-configurable properties.</summary>
    public Dictionary<string, string>? Properties { get; init; }

    /// <summary>Prefixed to each VirtualSystem's name.</summary>
    public string? NamePrefix { get; init; }

    /// <summary>Power each instance on once it is created.</summary>
    public bool StartAfterCreate { get; init; }
}

/// <summary>One instance an import creates, with the operation creating it.</summary>
/// <param name="InstanceId">The new instance's id.</param>
/// <param name="Name">Its name.</param>
/// <param name="OperationId">The create operation.</param>
/// <param name="Operation">The operation's path.</param>
public sealed record ImportedInstance(Guid InstanceId, string Name, string OperationId, string Operation);

/// <summary>A pre-cache request: <c>POST /v1/images</c>.</summary>
/// <param name="Image">The image reference.</param>
public sealed record PreCacheRequest(string Image);

/// <summary>A cached image as <c>GET /v1/images</c> lists it.</summary>
public sealed record CachedImageResource
{
    /// <summary>The entry's name: digest and format.</summary>
    public required string Name { get; init; }

    /// <summary>The cached file's format.</summary>
    public string? Format { get; init; }

    /// <summary>The file's size in bytes.</summary>
    public long SizeBytes { get; init; }

    /// <summary>The disk's virtual size in bytes.</summary>
    public long VirtualSize { get; init; }

    /// <summary>The reference it was first fetched for.</summary>
    public string? Source { get; init; }

    /// <summary>When an instance last used it.</summary>
    public DateTimeOffset LastUsed { get; init; }

    /// <summary>The instances it backs.</summary>
    public IReadOnlyList<Guid> Instances { get; init; } = [];
}
