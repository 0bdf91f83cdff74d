using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hypervisors.Agent.Client;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace Hypervisors.Agent.Fleet;

/// <summary>How the fleet client behaves.</summary>
public sealed class FleetClientOptions
{
    /// <summary>The default time a call waits for its answer.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A service whose last heartbeat is older than this is down.</summary>
    public TimeSpan DownAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether to follow the agents' heartbeats (for <see cref="FleetClient.Services"/>).</summary>
    public bool FollowHeartbeats { get; set; } = true;

    /// <summary>The clock (tests use a fake one).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;
}

/// <summary>A compute service as the fleet client sees it.</summary>
/// <param name="Host">The agent's host name.</param>
/// <param name="IsUp">Whether its last heartbeat came within the down interval.</param>
/// <param name="LastHeartbeatAt">When its last heartbeat arrived (this side's clock).</param>
/// <param name="Heartbeat">The last heartbeat: readiness and capacity.</param>
public sealed record ServiceStatus(string Host, bool IsUp, DateTimeOffset LastHeartbeatAt, ServiceHeartbeat Heartbeat);

/// <summary>
/// Calls and casts to compute agents over RabbitMQ, in oslo.messaging's envelope (so it reaches the same methods an
/// oslo.messaging client does): calls are answered by direct reply-to, casts are confirmed by the broker, and the
/// agents' heartbeats give each service's up/down state and capacity. Reconnects by itself after the broker
/// restarts; calls in flight then fail with <see cref="FleetReplyLostException"/>, never silently.
/// </summary>
public sealed class FleetClient : IAsyncDisposable
{
    private const string DirectReplyTo = "amq.rabbitmq.reply-to";

    private readonly BrokerOptions _broker;
    private readonly FleetClientOptions _options;
    private readonly FleetTopology _topology;
    private readonly ConnectionFactory _factory;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly SemaphoreSlim _callPublishGate = new(1, 1);
    private readonly ConcurrentDictionary<string, PendingCall> _pending = new();
    private readonly ConcurrentDictionary<string, ServiceRecord> _services = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private Link? _link;

    private FleetClient(BrokerOptions broker, FleetClientOptions options)
    {
        _broker = broker;
        _options = options;
        _topology = FleetTopology.For(broker);
        _factory = BrokerConnections.CreateFactory(broker, "hypervisors-fleet-client");
    }

    /// <summary>Connects to the broker (failing fast when it refuses or cannot be reached).</summary>
    public static async Task<FleetClient> ConnectAsync(BrokerOptions broker, FleetClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var client = new FleetClient(broker, options ?? new FleetClientOptions());
        try
        {
            await client.LinkAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The names on the broker this client uses.</summary>
    public FleetTopology Topology => _topology;

    /// <summary>Every service that has sent a heartbeat, up or down by the down interval.</summary>
    public IReadOnlyList<ServiceStatus> Services
    {
        get
        {
            var now = _options.Time.GetUtcNow();
            return [.. _services.Values
                .Select(record => new ServiceStatus(record.Heartbeat.Host, now - record.ReceivedAt <= _options.DownAfter, record.ReceivedAt, record.Heartbeat))
                .OrderBy(status => status.Host, StringComparer.Ordinal)];
        }
    }

    /// <summary>
    /// Calls <paramref name="method"/> on the agent of <paramref name="host"/> (any agent when null) and returns its
    /// result. Throws <see cref="AgentApiException"/> with the agent's problem when the command failed,
    /// <see cref="FleetCallTimeoutException"/> or <see cref="FleetReplyLostException"/> when no answer came.
    /// </summary>
    public Task<JsonNode?> CallAsync(string? host, string method, JsonObject arguments, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        CallAsync(host, method, arguments, Guid.NewGuid().ToString("N"), timeout, cancellationToken);

    /// <summary>As <see cref="CallAsync(string?, string, JsonObject, TimeSpan?, CancellationToken)"/>, with the caller's message id (its idempotency key: a repeat is not done twice).</summary>
    public async Task<JsonNode?> CallAsync(string? host, string method, JsonObject arguments, string messageId, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        var wait = timeout ?? _options.CallTimeout;
        var started = _options.Time.GetTimestamp();

        // A read goes to the host's transient reads queue first: no disk commit on the way. Where that queue does not
        // exist (the agent is reconnecting, or predates it), the broker returns the call and it goes the durable way.
        var reads = host is not null && FleetTopology.ReadOnlyMethods.Contains(method);
        var routingKey = reads ? _topology.ReadsQueue(host!) : RoutingKey(host);
        var body = OsloEnvelope.Wrap(OsloEnvelope.Request(method, arguments, messageId, null, null));
        while (true)
        {
            var link = await LinkAsync(cancellationToken).ConfigureAwait(false);
            var pending = new PendingCall(method, link);
            if (!_pending.TryAdd(messageId, pending))
            {
                throw new InvalidOperationException($"A call with message id {messageId} is already waiting.");
            }

            try
            {
                var properties = new BasicProperties
                {
                    ContentType = OsloEnvelope.ContentType,
                    ReplyTo = DirectReplyTo,
                    CorrelationId = messageId,
                    MessageId = messageId,
                    DeliveryMode = reads ? DeliveryModes.Transient : DeliveryModes.Persistent,
                };
                try
                {
                    if (reads)
                    {
                        // Reads are not confirmed: a lost one is asked again, and a return comes back as FleetUnroutableException.
                        await _callPublishGate.WaitAsync(cancellationToken).ConfigureAwait(false);
                        try
                        {
                            await link.CallChannel.BasicPublishAsync(_topology.ControlExchange, routingKey, true, properties, body, cancellationToken).ConfigureAwait(false);
                        }
                        finally
                        {
                            _callPublishGate.Release();
                        }
                    }
                    else
                    {
                        // A command is confirmed by the broker before its answer is awaited: one the queue refuses fails
                        // now, typed, instead of being dropped and timing out.
                        await link.ConfirmChannel.BasicPublishAsync(_topology.ControlExchange, routingKey, true, properties, body, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (PublishException exception) when (exception.IsReturn)
                {
                    throw new FleetUnroutableException(routingKey);
                }
                catch (PublishException exception)
                {
                    throw new FleetCallRefusedException(method, messageId, exception);
                }
                catch (Exception exception) when (exception is AlreadyClosedException or IOException or OperationInterruptedException)
                {
                    throw new FleetReplyLostException(method, messageId, "the connection to the broker failed while sending: " + exception.Message);
                }

                RpcReply reply;
                try
                {
                    reply = await pending.Reply.Task.WaitAsync(Remaining(wait, started), _options.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new FleetCallTimeoutException(method, messageId, wait);
                }
                catch (FleetUnroutableException) when (reads && Remaining(wait, started) > TimeSpan.Zero)
                {
                    reads = false;
                    routingKey = RoutingKey(host);
                    continue;
                }

                if (reply.Failure is { } failure)
                {
                    throw AgentFailures.ToException(failure);
                }

                return reply.Result;
            }
            finally
            {
                _pending.TryRemove(new KeyValuePair<string, PendingCall>(messageId, pending));
            }
        }
    }

    private TimeSpan Remaining(TimeSpan wait, long started)
    {
        var remaining = wait - _options.Time.GetElapsedTime(started);
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    /// <summary>Calls and reads the result as <typeparamref name="T"/> (the agent's JSON wire types).</summary>
    public async Task<T?> CallAsync<T>(string? host, string method, JsonObject arguments, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(host, method, arguments, timeout, cancellationToken).ConfigureAwait(false);
        return result is null ? default : result.Deserialize<T>(AgentJson.Options);
    }

    /// <summary>
    /// Casts <paramref name="method"/> to the agent of <paramref name="host"/> (any agent when null); returns once
    /// the broker has confirmed it holds the message. Returns the message id (for <c>get_call_result</c>).
    /// </summary>
    public async Task<string> CastAsync(string? host, string method, JsonObject arguments, CancellationToken cancellationToken = default)
    {
        var message = OsloEnvelope.Request(method, arguments, null, null, null);
        var uniqueId = message["_unique_id"]!.GetValue<string>();
        await PublishConfirmedAsync(_topology.ControlExchange, RoutingKey(host), message, uniqueId, cancellationToken).ConfigureAwait(false);
        return uniqueId;
    }

    /// <summary>Casts <paramref name="method"/> to every agent (the topic's fanout exchange).</summary>
    public async Task FanoutAsync(string method, JsonObject arguments, CancellationToken cancellationToken = default)
    {
        var message = OsloEnvelope.Request(method, arguments, null, null, null);
        await PublishConfirmedAsync(_topology.FanoutExchange, _topology.Topic, message, message["_unique_id"]!.GetValue<string>(), cancellationToken, mandatory: false).ConfigureAwait(false);
    }

    /// <summary>The result of an earlier call or cast to <paramref name="host"/>, by its message id, from the agent's journal.</summary>
    public Task<JsonNode?> GetCallResultAsync(string host, string messageId, TimeSpan? wait = null, CancellationToken cancellationToken = default)
    {
        var arguments = new JsonObject { ["message_id"] = messageId };
        if (wait is { } w)
        {
            arguments["wait_seconds"] = w.TotalSeconds;
        }

        return CallAsync(host, "get_call_result", arguments, wait is { } extra ? _options.CallTimeout + extra : null, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        var link = Interlocked.Exchange(ref _link, null);
        if (link is not null)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        FailPending("the fleet client was disposed");
        _connectGate.Dispose();
        _callPublishGate.Dispose();
        _disposed.Dispose();
    }

    private string RoutingKey(string? host) => host is null ? _topology.Topic : _topology.HostQueue(host);

    private async Task PublishConfirmedAsync(string exchange, string routingKey, JsonObject message, string messageId, CancellationToken cancellationToken, bool mandatory = true)
    {
        var link = await LinkAsync(cancellationToken).ConfigureAwait(false);
        var properties = new BasicProperties { ContentType = OsloEnvelope.ContentType, MessageId = messageId, DeliveryMode = DeliveryModes.Persistent };
        try
        {
            await link.ConfirmChannel.BasicPublishAsync(exchange, routingKey, mandatory, properties, OsloEnvelope.Wrap(message), cancellationToken).ConfigureAwait(false);
        }
        catch (PublishException exception) when (exception.IsReturn)
        {
            throw new FleetUnroutableException(routingKey);
        }
        catch (PublishException exception)
        {
            throw new FleetCallRefusedException(message["method"]?.GetValue<string>() ?? "cast", messageId, exception);
        }
    }

    private async Task<Link> LinkAsync(CancellationToken cancellationToken)
    {
        var current = _link;
        if (current is { IsOpen: true })
        {
            return current;
        }

        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            current = _link;
            if (current is { IsOpen: true })
            {
                return current;
            }

            if (current is not null)
            {
                await current.DisposeAsync().ConfigureAwait(false);
            }

            var connection = await _factory.CreateConnectionAsync(BrokerConnections.Endpoints(_broker), "hypervisors-fleet-client", cancellationToken).ConfigureAwait(false);
            var link = new Link(connection);
            try
            {
                await SetUpAsync(link, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await link.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            _link = link;
            return link;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private async Task SetUpAsync(Link link, CancellationToken cancellationToken)
    {
        var connection = link.Connection;
        connection.ConnectionShutdownAsync += (_, args) =>
        {
            link.IsOpen = false;
            FailPending($"the connection to the broker closed ({args.ReplyCode} {args.ReplyText})", link);
            if (_options.FollowHeartbeats && !_disposed.IsCancellationRequested)
            {
                // Heartbeats only arrive on an open connection: reconnect in the background.
                _ = ReconnectForHeartbeatsAsync();
            }

            return Task.CompletedTask;
        };

        link.CallChannel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        link.CallChannel.BasicReturnAsync += (_, returned) =>
        {
            if (returned.BasicProperties.CorrelationId is { } id && _pending.TryGetValue(id, out var call))
            {
                call.Reply.TrySetException(new FleetUnroutableException(returned.RoutingKey));
            }

            return Task.CompletedTask;
        };
        await ConsumeRepliesAsync(link.CallChannel, cancellationToken).ConfigureAwait(false);

        // Commands and casts are published with confirms. Direct reply-to answers on the channel that published, so
        // this channel consumes its own replies too.
        link.ConfirmChannel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), cancellationToken).ConfigureAwait(false);
        await ConsumeRepliesAsync(link.ConfirmChannel, cancellationToken).ConfigureAwait(false);

        if (_options.FollowHeartbeats)
        {
            var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            link.HeartbeatChannel = channel;
            await channel.ExchangeDeclareAsync(_topology.EventsExchange, ExchangeType.Topic, true, false, cancellationToken: cancellationToken).ConfigureAwait(false);
            var queue = await channel.QueueDeclareAsync(string.Empty, false, true, true, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueBindAsync(queue.QueueName, _topology.EventsExchange, FleetTopology.HeartbeatPrefix + "*", cancellationToken: cancellationToken).ConfigureAwait(false);
            var heartbeats = new AsyncEventingBasicConsumer(channel);
            heartbeats.ReceivedAsync += (_, delivery) =>
            {
                OnHeartbeat(delivery);
                return Task.CompletedTask;
            };
            await channel.BasicConsumeAsync(queue.QueueName, true, heartbeats, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ConsumeRepliesAsync(IChannel channel, CancellationToken cancellationToken)
    {
        var replies = new AsyncEventingBasicConsumer(channel);
        replies.ReceivedAsync += (_, delivery) =>
        {
            OnReply(delivery);
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(DirectReplyTo, true, replies, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReconnectForHeartbeatsAsync()
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (!_disposed.IsCancellationRequested)
        {
            try
            {
                await LinkAsync(_disposed.Token).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception exception) when (exception is BrokerUnreachableException or IOException or OperationInterruptedException or AlreadyClosedException or ObjectDisposedException)
            {
                try
                {
                    await Task.Delay(delay, _disposed.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private void OnReply(BasicDeliverEventArgs delivery)
    {
        RpcReply reply;
        try
        {
            reply = OsloEnvelope.ReadReply(OsloEnvelope.Unwrap(delivery.Body));
        }
        catch (OsloEnvelopeException)
        {
            return;
        }

        var id = reply.MessageId ?? delivery.BasicProperties.CorrelationId;
        if (reply.Ending && id is not null && _pending.TryGetValue(id, out var call))
        {
            call.Reply.TrySetResult(reply);
        }
    }

    private void OnHeartbeat(BasicDeliverEventArgs delivery)
    {
        ServiceHeartbeat? heartbeat;
        try
        {
            heartbeat = JsonSerializer.Deserialize<ServiceHeartbeat>(delivery.Body.Span, AgentJson.Options);
        }
        catch (JsonException)
        {
            return;
        }

        if (heartbeat is not null)
        {
            _services[heartbeat.Host] = new ServiceRecord(heartbeat, _options.Time.GetUtcNow());
        }
    }

    private void FailPending(string reason, Link? onlyOn = null)
    {
        foreach (var (id, call) in _pending)
        {
            if (onlyOn is null || ReferenceEquals(call.Link, onlyOn))
            {
                call.Reply.TrySetException(new FleetReplyLostException(call.Method, id, reason));
            }
        }
    }

    private sealed record ServiceRecord(ServiceHeartbeat Heartbeat, DateTimeOffset ReceivedAt);

    private sealed class PendingCall(string method, Link link)
    {
        public string Method { get; } = method;

        public Link Link { get; } = link;

        public TaskCompletionSource<RpcReply> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Link(IConnection connection) : IAsyncDisposable
    {
        public IConnection Connection { get; } = connection;

        public IChannel CallChannel { get; set; } = null!;

        public IChannel ConfirmChannel { get; set; } = null!;

        public IChannel? HeartbeatChannel { get; set; }

        public volatile bool IsOpen = true;

        public async ValueTask DisposeAsync()
        {
            IsOpen = false;
            try
            {
                await Connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or AlreadyClosedException or TimeoutException or OperationCanceledException)
            {
                // Already gone.
            }

            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
