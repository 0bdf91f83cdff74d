namespace Hypervisors.Agent.Fleet;

/// <summary>A call that got no answer; <see cref="MessageId"/> fetches its result later (<c>get_call_result</c>).</summary>
public abstract class FleetCallException : Exception
{
    protected FleetCallException(string message, string messageId, Exception? innerException = null)
        : base(message, innerException) => MessageId = messageId;

    /// <summary>The call's message id: the agent's idempotency key for it.</summary>
    public string MessageId { get; }
}

/// <summary>No answer came within the call's timeout; the command may still be done (look it up by <see cref="FleetCallException.MessageId"/>).</summary>
public sealed class FleetCallTimeoutException(string method, string messageId, TimeSpan timeout)
    : FleetCallException($"No answer to {method} (message {messageId}) within {timeout}.", messageId)
{
    /// <summary>How long the caller waited.</summary>
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>The connection the answer would have come back on was lost; the command may still be done.</summary>
public sealed class FleetReplyLostException(string method, string messageId, string reason)
    : FleetCallException($"The answer to {method} (message {messageId}) cannot arrive: {reason}.", messageId);

/// <summary>
/// The broker refused the message (a negative publisher confirm: the queue is unavailable or full): the agent never
/// got it, so repeating it with the same message id is safe.
/// </summary>
public sealed class FleetCallRefusedException(string method, string messageId, Exception? innerException = null)
    : FleetCallException($"The broker refused {method} (message {messageId}); it did not reach the agent and may be repeated.", messageId, innerException);

/// <summary>No queue takes the message: no agent of that host name ever joined the broker (or its queue was deleted).</summary>
public sealed class FleetUnroutableException(string routingKey)
    : Exception($"No queue is bound to '{routingKey}': no such agent on this broker.")
{
    /// <summary>The routing key that matched no queue.</summary>
    public string RoutingKey { get; } = routingKey;
}
