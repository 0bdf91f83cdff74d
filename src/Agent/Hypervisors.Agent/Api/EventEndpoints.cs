using System.Globalization;
using System.Text.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Events;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Api;

/// <summary>
/// <c>GET /v1/events</c>: a server-sent event stream of lifecycle events. <c>Last-Event-ID</c> (or
/// <c>?lastEventId=</c>) replays the retained events after that id before going live; an id beyond the newest event
/// is refused (400), never answered with silence; without one the stream starts with the next event. A comment line
/// is sent every 15 seconds to keep proxies from closing it. A reader more than <c>Agent:EventStreamBuffer</c>
/// events behind gets an <c>overflow</c> event (data: the last event id it was sent) and the stream ends, so it
/// resumes from there; a write that stays blocked for 30 seconds drops the connection.
/// </summary>
internal static class EventEndpoints
{
    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(30);

    public static void MapEventApi(this IEndpointRouteBuilder app) =>
        app.MapGet("/v1/events", StreamAsync)
            .WithName("WatchEvents")
            .WithSummary("Server-sent lifecycle events (event: lifecycle, id: the event id, data: an AgentEvent); resume with Last-Event-ID. An overflow event ends the stream of a reader that fell behind; it resumes with Last-Event-ID set to the overflow's data.")
            .Produces<AgentEvent>(200, "text/event-stream")
            .ProducesCommonProblems(400)
            .Calls(nameof(IHypervisorDriver.WatchEventsAsync));

    private static async Task StreamAsync(HttpContext context, EventLog events, IOptions<AgentOptions> options, ILoggerFactory loggers, string? lastEventId)
    {
        var header = context.Request.Headers["Last-Event-ID"].ToString();
        var (text, field) = header.Length > 0 ? (header, "Last-Event-ID") : (lastEventId, "lastEventId");
        long? after = null;
        if (!string.IsNullOrEmpty(text))
        {
            after = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw new InvalidSpecException(field, $"'{text}' is not an event id.");
            var newest = events.LastSeq;
            if (parsed > newest)
            {
                throw new InvalidSpecException(field,
                    $"event {parsed} is beyond the newest event ({newest}): the journal it came from is not this one. Reconnect without it to start at the live edge, or with 0 to replay all retained events.");
            }
        }

        var logger = loggers.CreateLogger(typeof(EventEndpoints).FullName!);
        var cancellationToken = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var lastSent = after ?? events.LastSeq;
        var enumerator = events.StreamAsync(after, options.Value.EventStreamBuffer, cancellationToken).GetAsyncEnumerator(cancellationToken);
        Task<bool>? next = null;
        try
        {
            await WriteAsync(context, ": hypervisors agent lifecycle events\n\n", cancellationToken).ConfigureAwait(false);
            while (true)
            {
                next ??= enumerator.MoveNextAsync().AsTask();
                if (await Task.WhenAny(next, Task.Delay(KeepAliveInterval, cancellationToken)).ConfigureAwait(false) != next)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await WriteAsync(context, ": keep-alive\n\n", cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var hasEvent = await next.ConfigureAwait(false);
                next = null;
                if (!hasEvent)
                {
                    return;
                }

                var agentEvent = enumerator.Current;
                lastSent = agentEvent.Id;
                var frame = $"id: {agentEvent.Id.ToString(CultureInfo.InvariantCulture)}\nevent: lifecycle\ndata: {JsonSerializer.Serialize(agentEvent, AgentJson.Options)}\n\n";
                await WriteAsync(context, frame, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (EventStreamOverflowException)
        {
            next = null;
            Log.EventStreamOverflow(logger, options.Value.EventStreamBuffer, lastSent);
            await TryWriteAsync(context, $"event: overflow\ndata: {lastSent.ToString(CultureInfo.InvariantCulture)}\n\n", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            // The client went away, or stopped reading for longer than the write timeout: nothing to report.
            Log.EventStreamClosed(logger, lastSent);
            if (!cancellationToken.IsCancellationRequested)
            {
                context.Abort();
            }
        }
        finally
        {
            // An async iterator cannot be disposed while a MoveNextAsync is pending; let it end (it is cancelled) first.
            if (next is not null)
            {
                await next.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            }

            await enumerator.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task WriteAsync(HttpContext context, string text, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(WriteTimeout);
        await context.Response.WriteAsync(text, timeout.Token).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(timeout.Token).ConfigureAwait(false);
    }

    private static async Task TryWriteAsync(HttpContext context, string text, CancellationToken cancellationToken)
    {
        try
        {
            await WriteAsync(context, text, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            context.Abort();
        }
    }
}
