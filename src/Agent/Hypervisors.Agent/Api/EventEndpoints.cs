using System.Globalization;
using System.Text.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Events;
using Microsoft.AspNetCore.Http.Features;

namespace Hypervisors.Agent.Api;

/// <summary>
/// <c>GET /v1/events</c>: a server-sent event stream of lifecycle events. <c>Last-Event-ID</c> (or
/// <c>?lastEventId=</c>) replays the retained events after that id before going live; without it the stream
/// starts with the next event. A comment line is sent every 15 seconds to keep proxies from closing it.
/// </summary>
internal static class EventEndpoints
{
    public static void MapEventApi(this IEndpointRouteBuilder app) =>
        app.MapGet("/v1/events", StreamAsync)
            .WithName("WatchEvents")
            .WithSummary("Server-sent lifecycle events (event: lifecycle, id: the event id, data: an AgentEvent); resume with Last-Event-ID.")
            .Produces<AgentEvent>(200, "text/event-stream");

    private static async Task StreamAsync(HttpContext context, EventLog events, long? lastEventId)
    {
        var after = lastEventId;
        var header = context.Request.Headers["Last-Event-ID"].ToString();
        if (header.Length > 0)
        {
            after = long.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw new InvalidSpecException("Last-Event-ID", $"'{header}' is not an event id.");
        }

        var cancellationToken = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await context.Response.WriteAsync(": hypervisors agent lifecycle events\n\n", cancellationToken).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);

        var enumerator = events.StreamAsync(after, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            try
            {
                while (true)
                {
                    var next = enumerator.MoveNextAsync().AsTask();
                    while (await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(15), cancellationToken)).ConfigureAwait(false) != next)
                    {
                        await context.Response.WriteAsync(": keep-alive\n\n", cancellationToken).ConfigureAwait(false);
                        await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }

                    if (!await next.ConfigureAwait(false))
                    {
                        return;
                    }

                    var agentEvent = enumerator.Current;
                    var frame = $"id: {agentEvent.Id.ToString(CultureInfo.InvariantCulture)}\nevent: lifecycle\ndata: {JsonSerializer.Serialize(agentEvent, AgentJson.Options)}\n\n";
                    await context.Response.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
                    await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The client went away.
            }
        }
    }
}
