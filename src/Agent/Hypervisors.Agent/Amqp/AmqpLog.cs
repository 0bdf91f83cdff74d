namespace Hypervisors.Agent.Amqp;

/// <summary>The AMQP side's log messages (event ids 6xxx).</summary>
internal static partial class AmqpLog
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Connected to RabbitMQ at {Endpoint} (vhost {VirtualHost}); consuming {HostQueue}, {SharedQueue} and {FanoutQueue}")]
    public static partial void Connected(ILogger logger, string endpoint, string virtualHost, string hostQueue, string sharedQueue, string fanoutQueue);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "RabbitMQ connection failed; retrying in {Delay}")]
    public static partial void ConnectFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "RabbitMQ connection lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Undecodable message {DeliveryTag} on {Queue} returned to the queue (it is dead-lettered after the delivery limit): {Reason}")]
    public static partial void Undecodable(ILogger logger, ulong deliveryTag, string queue, string reason);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Error, Message = "Command {Method} ({MessageKey}) could not be accepted; returned to the queue")]
    public static partial void AcceptFailed(ILogger logger, string method, string messageKey, Exception exception);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Debug, Message = "Command {Method} ({MessageKey}) refused: {Reason}")]
    public static partial void Refused(ILogger logger, string method, string messageKey, string reason);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning, Message = "Reply to {MessageId} could not be sent; the caller can fetch it with get_call_result")]
    public static partial void ReplyFailed(ILogger logger, string messageId, Exception exception);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Warning, Message = "Self-probe through the broker got no answer within {Timeout}: the agent is deaf; reconnecting")]
    public static partial void ProbeFailed(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Warning, Message = "The broker cancelled the consumer on {Queue}")]
    public static partial void ConsumerCancelled(ILogger logger, string queue);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Warning, Message = "Heartbeat or event could not be published")]
    public static partial void PublishFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Debug, Message = "Self-probe answered in {Elapsed}")]
    public static partial void ProbeAnswered(ILogger logger, TimeSpan elapsed);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Information, Message = "Self-probe not answered within {Timeout} while {Deliveries} commands arrived on the host queue: behind a backlog, not deaf; probing again")]
    public static partial void ProbeBehindBacklog(ILogger logger, TimeSpan timeout, long deliveries);

    [LoggerMessage(EventId = 6012, Level = LogLevel.Debug, Message = "Opening a RabbitMQ connection")]
    public static partial void Opening(ILogger logger);

    [LoggerMessage(EventId = 6013, Level = LogLevel.Debug, Message = "RabbitMQ connection open; declaring the queues and consumers")]
    public static partial void SettingUp(ILogger logger);

    [LoggerMessage(EventId = 6014, Level = LogLevel.Debug, Message = "Closing the ended session's channels and connection")]
    public static partial void Closing(ILogger logger);

    [LoggerMessage(EventId = 6015, Level = LogLevel.Warning, Message = "Closing the ended session took longer than {Timeout}; cut its socket")]
    public static partial void CloseAbandoned(ILogger logger, TimeSpan timeout);
}
