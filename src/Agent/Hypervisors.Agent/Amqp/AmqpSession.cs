using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Fleet;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Hypervisors.Agent.Amqp;

/// <summary>Opens <see cref="AmqpSession"/>s with the agent's settings.</summary>
internal sealed class AmqpSessionFactory(
    IOptions<BrokerOptions> brokerOptions,
    IOptions<AmqpAgentOptions> agentOptions,
    AmqpCommandHandler handler,
    AmqpHealth health,
    AmqpReplyRoute replies,
    EventLog events,
    IHypervisorDriverRegistry registry,
    TimeProvider time,
    ILogger<AmqpSession> logger)
{
    /// <summary>
    /// Opens a connection and sets up a session on it, within <see cref="AmqpAgentOptions.SessionSetupTimeout"/>. The
    /// limit is kept whether or not the client honours cancellation (its <c>basic.consume</c> does not, and a broker
    /// recovering from a crash may never answer one): a setup past it is abandoned and its connection closed.
    /// </summary>
    public async Task<AmqpSession> OpenAsync(CancellationToken cancellationToken)
    {
        var broker = brokerOptions.Value;
        var setupTimeout = agentOptions.Value.SessionSetupTimeout;
        using var setup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        setup.CancelAfter(setupTimeout);
        var gate = new Lock();
        AmqpSession? session = null;
        var givenUp = false;
        // The sockets this attempt opens, so a connection the client cannot close can still be cut (see AmqpSession.DisposeAsync).
        var sockets = new System.Collections.Concurrent.ConcurrentQueue<ITcpClient>();
        void Sever()
        {
            while (sockets.TryDequeue(out var socket))
            {
                socket.Dispose();
            }
        }

        async Task OpenCoreAsync()
        {
            var clientName = "hypervisors-agent " + agentOptions.Value.EffectiveHost;
            var factory = BrokerConnections.CreateFactory(broker, clientName);
            factory.SocketFactory = family =>
            {
                var socket = ConnectionFactoryBase.DefaultSocketFactory(family);
                sockets.Enqueue(socket);
                return socket;
            };
            AmqpLog.Opening(logger);
            var connection = await factory.CreateConnectionAsync(BrokerConnections.Endpoints(broker), clientName, setup.Token).ConfigureAwait(false);
            var opened = new AmqpSession(connection, Sever, FleetTopology.For(broker), agentOptions.Value, handler, health, replies, events, registry, time, logger);
            lock (gate)
            {
                session = givenUp ? null : opened;
            }

            if (session is null)
            {
                // Given up on meanwhile.
                await opened.DisposeAsync().ConfigureAwait(false);
                throw new OperationCanceledException(setup.Token);
            }

            AmqpLog.SettingUp(logger);
            await opened.SetUpAsync(setup.Token).ConfigureAwait(false);
        }

        var opening = OpenCoreAsync();
        try
        {
            await opening.WaitAsync(setupTimeout, time, cancellationToken).ConfigureAwait(false);
            AmqpLog.Connected(logger, session!.Endpoint, broker.VirtualHost, session.HostQueue, session.Topology.SharedQueue, session.FanoutQueue);
            return session;
        }
        catch (Exception exception)
        {
            await setup.CancelAsync().ConfigureAwait(false);
            AmqpSession? started;
            lock (gate)
            {
                givenUp = true;
                started = session;
            }

            if (started is not null)
            {
                // Closing its connection also ends a call the client still waits on.
                await started.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                // Still connecting: a connection that opens now has nothing to serve.
                Sever();
            }

            // Observed here: the setup may still fail after it was given up on.
            _ = opening.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            if (exception is TimeoutException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new TimeoutException($"The RabbitMQ connection and the agent's queues were not set up within {setupTimeout} (Agent:Amqp:SessionSetupTimeout).", exception);
            }

            throw;
        }
    }
}

/// <summary>
/// One connection's worth of the agent's AMQP side: declares the queues, consumes commands (acknowledging each only
/// once it is journaled), answers calls by direct reply-to, publishes heartbeats and events with publisher
/// confirms, and probes itself through the broker. <see cref="RunAsync"/> returns why the session ended.
/// </summary>
internal sealed class AmqpSession : IAsyncDisposable
{
    private const string DirectReplyTo = "amq.rabbitmq.reply-to";

    private readonly IConnection _connection;
    private readonly Action _sever;
    private readonly AmqpAgentOptions _options;
    private readonly AmqpCommandHandler _handler;
    private readonly AmqpHealth _health;
    private readonly AmqpReplyRoute _replies;
    private readonly EventLog _events;
    private readonly IHypervisorDriverRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<string> _broken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _sessionEnd = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _probes = new();
    private readonly List<(IChannel Channel, string Tag)> _consumers = [];
    private IChannel? _consumeChannel;
    private IChannel? _replyChannel;
    private IChannel? _eventsChannel;
    private IChannel? _probeChannel;
    private int _inFlight;
    private long _hostQueueDeliveries;
    private volatile bool _closing;
    private int _disposed;

    public AmqpSession(IConnection connection, Action sever, FleetTopology topology, AmqpAgentOptions options, AmqpCommandHandler handler, AmqpHealth health, AmqpReplyRoute replies, EventLog events,
        IHypervisorDriverRegistry registry, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _sever = sever;
        Topology = topology;
        _options = options;
        _handler = handler;
        _health = health;
        _replies = replies;
        _events = events;
        _registry = registry;
        _time = time;
        _logger = logger;
        HostQueue = topology.HostQueue(options.EffectiveHost);
        ReadsQueue = topology.ReadsQueue(options.EffectiveHost);
    }

    public FleetTopology Topology { get; }

    /// <summary>The broker endpoint of the session's connection.</summary>
    public string Endpoint => _connection.Endpoint.ToString();

    public string HostQueue { get; }

    public string ReadsQueue { get; }

    public string FanoutQueue { get; private set; } = string.Empty;

    public async Task SetUpAsync(CancellationToken cancellationToken)
    {
        _connection.ConnectionShutdownAsync += (_, args) =>
        {
            Break($"connection closed ({args.ReplyCode} {args.ReplyText})");
            return Task.CompletedTask;
        };
        var consume = _consumeChannel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(false, false, consumerDispatchConcurrency: _options.Prefetch), cancellationToken).ConfigureAwait(false);
        consume.ChannelShutdownAsync += (_, args) =>
        {
            Break($"command channel closed ({args.ReplyCode} {args.ReplyText})");
            return Task.CompletedTask;
        };
        await consume.BasicQosAsync(0, _options.Prefetch, false, cancellationToken).ConfigureAwait(false);
        await DeclareTopologyAsync(consume, cancellationToken).ConfigureAwait(false);

        _replyChannel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _eventsChannel = await _connection.CreateChannelAsync(new CreateChannelOptions(true, true), cancellationToken).ConfigureAwait(false);
        _probeChannel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var probeReplies = new AsyncEventingBasicConsumer(_probeChannel);
        probeReplies.ReceivedAsync += (_, delivery) =>
        {
            if (delivery.BasicProperties.CorrelationId is { } id && _probes.TryRemove(id, out var waiter))
            {
                waiter.TrySetResult();
            }

            return Task.CompletedTask;
        };
        await _probeChannel.BasicConsumeAsync(DirectReplyTo, true, probeReplies, cancellationToken).ConfigureAwait(false);

        foreach (var queue in new[] { HostQueue, ReadsQueue, Topology.SharedQueue, FanoutQueue })
        {
            var consumer = new AsyncEventingBasicConsumer(consume);
            consumer.ReceivedAsync += (_, delivery) => OnDeliveryAsync(queue, delivery);
            consumer.UnregisteredAsync += (_, _) =>
            {
                if (!_closing)
                {
                    // The broker cancelled it (the queue was deleted, or a failover): nothing more would arrive.
                    AmqpLog.ConsumerCancelled(_logger, queue);
                    Break($"the broker cancelled the consumer on {queue}");
                }

                return Task.CompletedTask;
            };
            var tag = await consume.BasicConsumeAsync(queue, false, consumer, cancellationToken).ConfigureAwait(false);
            _consumers.Add((consume, tag));
        }

        _replies.Attach(_replyChannel);
    }

    /// <summary>Serves until the session breaks or <paramref name="stopping"/>; returns why it ended.</summary>
    public async Task<string> RunAsync(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _sessionEnd.Token);
        var loops = new[]
        {
            ProbeLoopAsync(linked.Token),
            HeartbeatLoopAsync(linked.Token),
            ForwardLifecycleEventsAsync(linked.Token),
        };
        string reason;
        try
        {
            reason = await _broken.Task.WaitAsync(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            reason = "the agent is stopping";
            await DrainAsync().ConfigureAwait(false);
        }

        await _sessionEnd.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(loops).ConfigureAwait(false);
        return reason;
    }

    /// <summary>How long closing an ended session may take before it is abandoned: the next session must not wait on a dead one.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _closing = true;
        if (_replyChannel is not null)
        {
            _replies.Detach(_replyChannel);
        }

        AmqpLog.Closing(_logger);
        await _sessionEnd.CancelAsync().ConfigureAwait(false);
        // On the pool: a close that blocks its caller (as the client's may on a dead connection) is bounded too.
        var closing = Task.Run(CloseAsync);
        try
        {
            await closing.WaitAsync(CloseTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The client waits for a broker that does not answer (one recovering from a crash may never send
            // close-ok, and its half-dead connection would keep this agent's single-active-consumer slot). Cutting
            // the socket ends it on both sides; what is left of the close finishes in the background.
            AmqpLog.CloseAbandoned(_logger, CloseTimeout);
            _sever();
        }
    }

    private async Task CloseAsync()
    {
        foreach (var channel in new[] { _probeChannel, _eventsChannel, _replyChannel, _consumeChannel })
        {
            if (channel is not null)
            {
                await QuietlyAsync(channel.DisposeAsync().AsTask()).ConfigureAwait(false);
            }
        }

        // Unacknowledged commands go back to their queues when the broker sees the connection close (or die).
        await QuietlyAsync(_connection.CloseAsync(CloseTimeout)).ConfigureAwait(false);
        await QuietlyAsync(_connection.DisposeAsync().AsTask()).ConfigureAwait(false);
        _sessionEnd.Dispose();
    }

    private static async Task QuietlyAsync(Task closing)
    {
        try
        {
            await closing.ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is IOException or TimeoutException or OperationCanceledException or ObjectDisposedException
            or RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            // Already gone.
        }
    }

    private async Task DeclareTopologyAsync(IChannel channel, CancellationToken cancellationToken)
    {
        // The names and exchange settings are oslo.messaging's, so its clients' own declarations agree with these.
        await channel.ExchangeDeclareAsync(Topology.ControlExchange, ExchangeType.Topic, _options.DurableControlExchange, false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(Topology.FanoutExchange, ExchangeType.Fanout, false, true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(Topology.EventsExchange, ExchangeType.Topic, true, false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(Topology.DeadLetterExchange, ExchangeType.Fanout, true, false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(Topology.DeadLetterQueue, true, false, false, new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(Topology.DeadLetterQueue, Topology.DeadLetterExchange, string.Empty, cancellationToken: cancellationToken).ConfigureAwait(false);

        await channel.QueueDeclareAsync(HostQueue, true, false, false, CommandQueueArguments(singleActiveConsumer: true), cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(HostQueue, Topology.ControlExchange, HostQueue, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueDeclareAsync(Topology.SharedQueue, true, false, false, CommandQueueArguments(singleActiveConsumer: false), cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(Topology.SharedQueue, Topology.ControlExchange, Topology.Topic, cancellationToken: cancellationToken).ConfigureAwait(false);

        // Read-only calls from the fleet client: transient and classic, so a read does not wait for a disk commit;
        // it exists only while this agent consumes it (a caller then falls back to the host queue).
        await channel.QueueDeclareAsync(ReadsQueue, false, false, true, new Dictionary<string, object?> { ["x-single-active-consumer"] = true }, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.QueueBindAsync(ReadsQueue, Topology.ControlExchange, ReadsQueue, cancellationToken: cancellationToken).ConfigureAwait(false);

        var fanout = await channel.QueueDeclareAsync($"{Topology.Topic}_fanout_{Guid.NewGuid():N}", false, true, true, cancellationToken: cancellationToken).ConfigureAwait(false);
        FanoutQueue = fanout.QueueName;
        await channel.QueueBindAsync(FanoutQueue, Topology.FanoutExchange, Topology.Topic, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private Dictionary<string, object?> CommandQueueArguments(bool singleActiveConsumer)
    {
        var arguments = new Dictionary<string, object?>
        {
            ["x-queue-type"] = "quorum",
            ["x-delivery-limit"] = _options.DeliveryLimit,
            ["x-dead-letter-exchange"] = Topology.DeadLetterExchange,
        };
        if (singleActiveConsumer)
        {
            arguments["x-single-active-consumer"] = true;
        }

        return arguments;
    }

    private async Task OnDeliveryAsync(string queue, BasicDeliverEventArgs delivery)
    {
        var channel = _consumeChannel!;
        Interlocked.Increment(ref _inFlight);
        if (string.Equals(queue, HostQueue, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _hostQueueDeliveries);
        }

        try
        {
            RpcRequest request;
            try
            {
                request = OsloEnvelope.ReadRequest(OsloEnvelope.Unwrap(delivery.Body));
            }
            catch (OsloEnvelopeException exception)
            {
                // Back to the queue: an agent of another version may read it; past the delivery limit the broker
                // moves it to the dead-letter queue for an operator.
                AmqpLog.Undecodable(_logger, delivery.DeliveryTag, queue, exception.Message);
                await channel.BasicNackAsync(delivery.DeliveryTag, false, true, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            var key = request.MessageId ?? request.UniqueId ?? delivery.BasicProperties.MessageId ?? Guid.NewGuid().ToString("N");
            Task<CommandOutcome> outcome;
            try
            {
                outcome = await _handler.AcceptAsync(request, key, _sessionEnd.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is HypervisorException or UnknownDriverException or CommandRefusedException)
            {
                // Refused before anything was journaled: acknowledged, and a call is told why.
                AmqpLog.Refused(_logger, request.Method, key, exception.Message);
                outcome = Task.FromResult(new CommandOutcome(null, exception switch
                {
                    CommandRefusedException refused => refused.Problem,
                    UnknownDriverException => new AgentProblem { Type = Problems.TypeUri("driver-not-found"), Title = "Driver not found", Status = 404, Detail = exception.Message, Kind = HypervisorErrorKind.NotFound },
                    _ => Problems.FromException(exception, null),
                }));
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !_sessionEnd.IsCancellationRequested)
            {
                AmqpLog.AcceptFailed(_logger, request.Method, key, exception);
                await channel.BasicNackAsync(delivery.DeliveryTag, false, true, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            await channel.BasicAckAsync(delivery.DeliveryTag, false, CancellationToken.None).ConfigureAwait(false);
            var replyTo = delivery.BasicProperties.ReplyTo ?? request.ReplyQueue;
            _ = FinishAsync(request, replyTo, outcome);
        }
        catch (OperationCanceledException) when (_sessionEnd.IsCancellationRequested)
        {
            // Not acknowledged: the broker gives it to the next consumer (a journaled one is recognised by its key).
        }
        catch (Exception exception) when (exception is RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException)
        {
            Break("the command channel failed: " + exception.Message);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task FinishAsync(RpcRequest request, string? replyTo, Task<CommandOutcome> pending)
    {
        var outcome = await pending.ConfigureAwait(false);
        if (request.IsCall && replyTo is not null)
        {
            var reply = OsloEnvelope.Reply(request.MessageId!, outcome.Result, outcome.Problem is null ? null : AgentFailures.FromProblem(outcome.Problem));
            try
            {
                // Through the live session: this command's own connection may have been recycled meanwhile.
                var properties = new BasicProperties { ContentType = OsloEnvelope.ContentType, CorrelationId = request.MessageId };
                await _replies.PublishAsync(replyTo, properties, OsloEnvelope.Wrap(reply)).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is TimeoutException or OperationCanceledException or ObjectDisposedException)
            {
                AmqpLog.ReplyFailed(_logger, request.MessageId!, exception);
            }
        }

        if (!AmqpCommandHandler.ReadOnlyMethods.Contains(request.Method))
        {
            var state = outcome.Problem is null ? outcome.Result?["state"]?.GetValue<string>() ?? "Unknown" : "Failed";
            var body = new JsonObject { ["host"] = _options.EffectiveHost, ["method"] = request.Method, ["message_id"] = request.MessageId ?? request.UniqueId, ["operation"] = outcome.Result?.DeepClone(), ["error"] = outcome.Problem is null ? null : JsonSerializer.SerializeToNode(outcome.Problem, AgentJson.Options) };
            await PublishEventAsync($"operation.{_options.EffectiveHost}.{state.ToLowerInvariant()}", JsonSerializer.SerializeToUtf8Bytes(body), CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task ProbeLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var started = _time.GetTimestamp();
                var deliveriesBefore = Interlocked.Read(ref _hostQueueDeliveries);
                if (await ProbeAsync(cancellationToken).ConfigureAwait(false))
                {
                    AmqpLog.ProbeAnswered(_logger, _time.GetElapsedTime(started));
                    _health.Set(true, $"the broker delivered the agent's own call on {HostQueue} and its answer");
                }
                else if (Interlocked.Read(ref _hostQueueDeliveries) != deliveriesBefore || Volatile.Read(ref _inFlight) > 0)
                {
                    // Not deaf, behind: commands kept arriving on the host queue while the probe waited in it, or are
                    // still being accepted (a backlog after a restart, or a slow journal). Recycling now would only requeue them and count
                    // their deliveries toward the dead-letter limit; probe again at once.
                    AmqpLog.ProbeBehindBacklog(_logger, _options.ProbeTimeout, Interlocked.Read(ref _hostQueueDeliveries) - deliveriesBefore);
                    continue;
                }
                else
                {
                    AmqpLog.ProbeFailed(_logger, _options.ProbeTimeout);
                    _health.Set(false, "deaf: the self-probe through the broker got no answer");
                    Break("the self-probe got no answer");
                    return;
                }

                await Task.Delay(_options.ProbeInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> ProbeAsync(CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probes[id] = answered;
        try
        {
            var message = OsloEnvelope.Request("ping", [], id, null, _options.ProbeTimeout);
            var properties = new BasicProperties
            {
                ContentType = OsloEnvelope.ContentType,
                ReplyTo = DirectReplyTo,
                MessageId = id,
                // An unanswered probe must not linger in the queue after the agent has given up on it.
                Expiration = ((long)_options.ProbeTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            await _probeChannel!.BasicPublishAsync(Topology.ControlExchange, HostQueue, false, properties, OsloEnvelope.Wrap(message), cancellationToken).ConfigureAwait(false);
            await answered.Task.WaitAsync(_options.ProbeTimeout, _time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception exception) when (exception is RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException)
        {
            return false;
        }
        finally
        {
            _probes.TryRemove(id, out _);
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var heartbeat = new ServiceHeartbeat
                {
                    Host = _options.EffectiveHost,
                    SentAt = _time.GetUtcNow(),
                    ReportInterval = _options.ReportInterval,
                    Ready = _health.IsReady,
                    Drivers = await CapacitiesAsync(cancellationToken).ConfigureAwait(false),
                };
                await PublishEventAsync(FleetTopology.HeartbeatPrefix + _options.EffectiveHost, JsonSerializer.SerializeToUtf8Bytes(heartbeat, AgentJson.Options), cancellationToken).ConfigureAwait(false);
                await Task.Delay(_options.ReportInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task<IReadOnlyList<DriverCapacity>> CapacitiesAsync(CancellationToken cancellationToken)
    {
        var capacities = new List<DriverCapacity>();
        foreach (var name in _registry.Names)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                var host = await _registry.Get(name).GetHostInfoAsync(timeout.Token).ConfigureAwait(false);
                capacities.Add(new DriverCapacity
                {
                    Driver = name,
                    HypervisorType = host.HypervisorType,
                    VCpusTotal = host.VCpusTotal,
                    VCpusUsed = host.VCpusUsed,
                    MemoryMiBTotal = host.MemoryMiBTotal,
                    MemoryMiBUsed = host.MemoryMiBUsed,
                    LocalDiskGiBTotal = host.LocalDiskGiBTotal,
                    LocalDiskGiBUsed = host.LocalDiskGiBUsed,
                });
            }
            catch (Exception exception) when (exception is HypervisorException || (exception is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                capacities.Add(new DriverCapacity { Driver = name, Error = exception.Message });
            }
        }

        return capacities;
    }

    /// <summary>Live lifecycle events that may wait for the broker before the forwarder resumes from the journal.</summary>
    private const int LifecycleEventBuffer = 4096;

    private async Task ForwardLifecycleEventsAsync(CancellationToken cancellationToken)
    {
        long? after = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var happened in _events.StreamAsync(after, LifecycleEventBuffer, cancellationToken).ConfigureAwait(false))
                {
                    await PublishEventAsync($"lifecycle.{_options.EffectiveHost}.{happened.Kind.ToString().ToLowerInvariant()}",
                        JsonSerializer.SerializeToUtf8Bytes(happened, AgentJson.Options), cancellationToken).ConfigureAwait(false);
                    after = happened.Id;
                }

                return;
            }
            catch (EventStreamOverflowException)
            {
                // The broker fell behind the bounded live buffer: resume from the journal after the last event sent.
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    private async Task PublishEventAsync(string routingKey, byte[] body, CancellationToken cancellationToken)
    {
        try
        {
            var properties = new BasicProperties { ContentType = "application/json", DeliveryMode = DeliveryModes.Persistent };
            await _eventsChannel!.BasicPublishAsync(Topology.EventsExchange, routingKey, false, properties, body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException or RabbitMQ.Client.Exceptions.PublishException
            or RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            AmqpLog.PublishFailed(_logger, exception);
        }
    }

    private async Task DrainAsync()
    {
        _closing = true;
        foreach (var (channel, tag) in _consumers)
        {
            try
            {
                await channel.BasicCancelAsync(tag).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is RabbitMQ.Client.Exceptions.AlreadyClosedException or IOException or RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                return;
            }
        }

        // Let the commands being journaled finish and be acknowledged; the rest go back to the queue.
        var deadline = _time.GetTimestamp();
        while (Volatile.Read(ref _inFlight) > 0 && _time.GetElapsedTime(deadline) < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    private void Break(string reason)
    {
        if (_replyChannel is not null)
        {
            _replies.Detach(_replyChannel);
        }

        _broken.TrySetResult(reason);
    }
}
