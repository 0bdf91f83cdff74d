using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Hypervisors.Agent.Client;

/// <summary>
/// A typed client for the agent's /v1 API over an <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/>
/// is the agent's URL. Problems come back as <see cref="AgentApiException"/>.
/// </summary>
public sealed partial class AgentClient
{
    private readonly HttpClient _http;

    /// <summary>Wraps <paramref name="http"/>; a non-null <paramref name="bearerToken"/> is sent with every request.</summary>
    public AgentClient(HttpClient http, string? bearerToken = null)
    {
        _http = http ?? throw new ArgumentNullException(nameof(http));
        if (bearerToken is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }
    }

    /// <summary>The drivers the agent hosts.</summary>
    public Task<IReadOnlyList<DriverResource>> GetDriversAsync(CancellationToken cancellationToken = default) =>
        GetAsync<IReadOnlyList<DriverResource>>(AgentPaths.Build(["v1", "drivers"]), cancellationToken);

    /// <summary>The host's resources and the driver's capabilities.</summary>
    public Task<HostResource> GetHostAsync(string driver, CancellationToken cancellationToken = default) =>
        GetAsync<HostResource>(AgentPaths.Build(["v1", "drivers", driver, "host"]), cancellationToken);

    /// <summary>Every instance of the driver.</summary>
    public Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(string driver, CancellationToken cancellationToken = default) =>
        GetAsync<IReadOnlyList<InstanceInfo>>(AgentPaths.Build(AgentPaths.Instance(driver, null)), cancellationToken);

    /// <summary>One instance.</summary>
    public Task<InstanceInfo> GetInstanceAsync(string driver, Guid instanceId, CancellationToken cancellationToken = default) =>
        GetAsync<InstanceInfo>(AgentPaths.Build(AgentPaths.Instance(driver, instanceId)), cancellationToken);

    /// <summary>The tail of the serial console.</summary>
    public Task<ConsoleOutput> GetConsoleOutputAsync(string driver, Guid instanceId, CancellationToken cancellationToken = default) =>
        GetAsync<ConsoleOutput>(AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "console")), cancellationToken);

    /// <summary>The instance's disks, volumes and interfaces.</summary>
    public Task<InstanceDevices> GetDevicesAsync(string driver, Guid instanceId, CancellationToken cancellationToken = default) =>
        GetAsync<InstanceDevices>(AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "devices")), cancellationToken);

    /// <summary>
    /// Creates (idempotently, on <paramref name="instanceId"/>) and returns the operation; with <paramref name="wait"/>,
    /// the agent holds the answer until the operation is final or the wait is over.
    /// </summary>
    public Task<OperationResource> CreateInstanceAsync(string driver, Guid instanceId, CreateInstanceRequest request, TimeSpan? wait = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Put, AgentPaths.Build(AgentPaths.Instance(driver, instanceId), ("wait", AgentPaths.Duration(wait))), JsonContent.Create(request, options: AgentJson.Options), null, cancellationToken);

    /// <summary>
    /// Runs a power action: start, stop (with <paramref name="timeout"/> as the graceful timeout), power-off, reboot
    /// (<paramref name="rebootKind"/>), pause, unpause, suspend or resume.
    /// </summary>
    public Task<OperationResource> RunActionAsync(string driver, Guid instanceId, string action, TimeSpan? wait = null, TimeSpan? timeout = null, RebootKind? rebootKind = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Post,
            AgentPaths.Build(AgentPaths.Instance(driver, instanceId, action), ("wait", AgentPaths.Duration(wait)), ("timeout", AgentPaths.Duration(timeout)), ("kind", rebootKind?.ToString().ToLowerInvariant())),
            null, idempotencyKey, cancellationToken);

    /// <summary>Deletes the instance.</summary>
    public Task<OperationResource> DeleteInstanceAsync(string driver, Guid instanceId, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Delete, AgentPaths.Build(AgentPaths.Instance(driver, instanceId), ("wait", AgentPaths.Duration(wait))), null, idempotencyKey, cancellationToken);

    /// <summary>Attaches a volume.</summary>
    public Task<OperationResource> AttachVolumeAsync(string driver, Guid instanceId, VolumeSpec volume, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Post, AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "volumes"), ("wait", AgentPaths.Duration(wait))), JsonContent.Create(volume, options: AgentJson.Options), idempotencyKey, cancellationToken);

    /// <summary>Detaches a volume.</summary>
    public Task<OperationResource> DetachVolumeAsync(string driver, Guid instanceId, string volumeId, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Delete, AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "volumes", volumeId), ("wait", AgentPaths.Duration(wait))), null, idempotencyKey, cancellationToken);

    /// <summary>Attaches a network interface.</summary>
    public Task<OperationResource> AttachInterfaceAsync(string driver, Guid instanceId, NetworkInterfaceSpec networkInterface, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Post, AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "interfaces"), ("wait", AgentPaths.Duration(wait))), JsonContent.Create(networkInterface, options: AgentJson.Options), idempotencyKey, cancellationToken);

    /// <summary>Detaches the network interface with this MAC address.</summary>
    public Task<OperationResource> DetachInterfaceAsync(string driver, Guid instanceId, string macAddress, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Delete, AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "interfaces", macAddress), ("wait", AgentPaths.Duration(wait))), null, idempotencyKey, cancellationToken);

    /// <summary>The instance's snapshots.</summary>
    public Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(string driver, Guid instanceId, CancellationToken cancellationToken = default) =>
        GetAsync<IReadOnlyList<SnapshotInfo>>(AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "snapshots")), cancellationToken);

    /// <summary>Takes a snapshot named <paramref name="name"/>; the final operation's result is its <see cref="SnapshotInfo"/>.</summary>
    public Task<OperationResource> CreateSnapshotAsync(string driver, Guid instanceId, string name, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Post, AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "snapshots"), ("wait", AgentPaths.Duration(wait))),
            JsonContent.Create(new CreateSnapshotRequest { Name = name }, options: AgentJson.Options), idempotencyKey, cancellationToken);

    /// <summary>Deletes a snapshot.</summary>
    public Task<OperationResource> DeleteSnapshotAsync(string driver, Guid instanceId, string snapshotId, TimeSpan? wait = null, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        SendOperationAsync(HttpMethod.Delete, AgentPaths.Build(AgentPaths.Instance(driver, instanceId, "snapshots", snapshotId), ("wait", AgentPaths.Duration(wait))), null, idempotencyKey, cancellationToken);

    /// <summary>Reads an operation, waiting up to <paramref name="wait"/> for it to become final.</summary>
    public Task<OperationResource> GetOperationAsync(string operationId, TimeSpan? wait = null, CancellationToken cancellationToken = default) =>
        GetAsync<OperationResource>(AgentPaths.Build(["v1", "operations", operationId], ("wait", AgentPaths.Duration(wait))), cancellationToken);

    /// <summary>
    /// One page of operations, oldest first, optionally of one driver, instance or state; pass the previous page's
    /// <see cref="OperationListResource.Next"/> as <paramref name="after"/> for the next page.
    /// </summary>
    public Task<OperationListResource> ListOperationsAsync(string? driver = null, Guid? instanceId = null, OperationState? state = null, string? after = null, int? limit = null, CancellationToken cancellationToken = default) =>
        GetAsync<OperationListResource>(AgentPaths.Build(["v1", "operations"],
            ("driver", driver), ("instanceId", instanceId?.ToString("D", CultureInfo.InvariantCulture)), ("state", state?.ToString()),
            ("after", after), ("limit", limit?.ToString(CultureInfo.InvariantCulture))), cancellationToken);

    /// <summary>Polls (with server-side waits of up to 30 s) until the operation is final.</summary>
    public async Task<OperationResource> WaitForOperationAsync(OperationResource operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        while (!operation.IsFinal)
        {
            operation = await GetOperationAsync(operation.Id, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }

        return operation;
    }

    /// <summary>
    /// Streams lifecycle events, replaying those after <paramref name="lastEventId"/> first (all retained ones for 0,
    /// none for null), until cancelled. When the agent ends the stream because this reader fell behind (an
    /// <c>overflow</c> event), it reconnects from the last event it got, so no event is missed.
    /// </summary>
    public async IAsyncEnumerable<AgentEvent> WatchEventsAsync(long? lastEventId = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var resumeAfter = lastEventId;
        while (true)
        {
            var overflowed = false;
            using var request = new HttpRequestMessage(HttpMethod.Get, AgentPaths.Build(["v1", "events"]));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (resumeAfter is { } last)
            {
                request.Headers.Add("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
            if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            {
                throw new AgentProtocolException($"{response.RequestMessage?.RequestUri} answered {response.Content.Headers.ContentType?.MediaType ?? "no content type"} instead of an event stream.");
            }

            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var parser = SseParser.Create(stream, (type, data) => type == "overflow" ? null : JsonSerializer.Deserialize<AgentEvent>(data, AgentJson.Options));
                await foreach (var item in parser.EnumerateAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (item.EventType == "overflow")
                    {
                        overflowed = true;
                        break;
                    }

                    if (item.Data is { } agentEvent)
                    {
                        resumeAfter = agentEvent.Id;
                        yield return agentEvent;
                    }
                }
            }

            if (!overflowed)
            {
                yield break;
            }

            // Fell behind: resume after the last event received (the agent replays the rest from its journal).
            resumeAfter ??= 0;
        }
    }

    private async Task<T> GetAsync<T>(Uri uri, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<OperationResource> SendOperationAsync(HttpMethod method, Uri uri, HttpContent? content, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri) { Content = content };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<OperationResource>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a JSON answer; anything else means the server is not a Hypervisors agent.</summary>
    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/json")
        {
            throw new AgentProtocolException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} with {response.Content.Headers.ContentType?.MediaType ?? "no content type"} instead of JSON: it is not a Hypervisors agent.");
        }

        try
        {
            return await response.Content.ReadFromJsonAsync<T>(AgentJson.Options, cancellationToken).ConfigureAwait(false)
                ?? throw new AgentProtocolException($"{response.RequestMessage?.RequestUri} answered null.");
        }
        catch (JsonException exception)
        {
            throw new AgentProtocolException($"{response.RequestMessage?.RequestUri} answered JSON that is not the agent's: {exception.Message}", exception);
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        AgentProblem? problem = null;
        if (response.Content.Headers.ContentType?.MediaType is "application/problem+json")
        {
            try
            {
                problem = await response.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                problem = null;
            }
        }

        if (problem?.Type?.StartsWith("urn:hypervisors:problem:", StringComparison.Ordinal) != true)
        {
            // The agent answers every error with a problem; a bare error page comes from something else (a proxy
            // in the way, another service on the port).
            throw new AgentProtocolException(
                $"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} {response.ReasonPhrase} with {response.Content.Headers.ContentType?.MediaType ?? "no content type"}, not a problem: it is not a Hypervisors agent (or a proxy answered for it).")
            {
                StatusCode = (int)response.StatusCode,
            };
        }

        throw new AgentApiException(problem!, (int)response.StatusCode);
    }
}
