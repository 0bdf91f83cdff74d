using System.Net.Http.Json;

namespace Hypervisors.Agent.Client;

/// <summary>The image cache and OVF import.</summary>
public sealed partial class AgentClient
{
    /// <summary>The host's cached images.</summary>
    public Task<IReadOnlyList<CachedImageResource>> ListCachedImagesAsync(CancellationToken cancellationToken = default) =>
        GetAsync<IReadOnlyList<CachedImageResource>>(AgentPaths.Build(["v1", "images"]), cancellationToken);

    /// <summary>Fetches an image into the host's cache ahead of any instance.</summary>
    public async Task<CachedImageResource?> PreCacheImageAsync(string image, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync(AgentPaths.Build(["v1", "images"]), new PreCacheRequest(image), AgentJson.Options, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<CachedImageResource>(AgentJson.Options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Imports an OVA on <paramref name="driver"/>: one create operation per VirtualSystem.</summary>
    public async Task<IReadOnlyList<ImportedInstance>> ImportAsync(string driver, ImportRequest request, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync(AgentPaths.Build(["v1", "drivers", driver, "imports"]), request, AgentJson.Options, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<IReadOnlyList<ImportedInstance>>(AgentJson.Options, cancellationToken).ConfigureAwait(false))!;
    }
}
