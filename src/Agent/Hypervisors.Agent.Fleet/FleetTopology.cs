namespace Hypervisors.Agent.Fleet;

/// <summary>
/// The names on the broker, as oslo.messaging's RabbitMQ driver uses them: a topic exchange named after the control
/// exchange, the shared queue <c>{topic}</c>, one queue per host <c>{topic}.{host}</c>, and the fanout exchange
/// <c>{topic}_fanout</c>; plus the fleet's own events exchange and dead-letter exchange.
/// </summary>
public sealed class FleetTopology(string controlExchange, string topic)
{
    /// <summary>The routing key prefix of heartbeats on <see cref="EventsExchange"/>.</summary>
    public const string HeartbeatPrefix = "heartbeat.";

    /// <summary>The topology for <paramref name="options"/>.</summary>
    public static FleetTopology For(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new FleetTopology(options.ControlExchange, options.Topic);
    }

    /// <summary>The topic exchange RPC calls and casts are published to.</summary>
    public string ControlExchange { get; } = controlExchange;

    /// <summary>The RPC topic.</summary>
    public string Topic { get; } = topic;

    /// <summary>The queue any host may take work from.</summary>
    public string SharedQueue => Topic;

    /// <summary>The fanout exchange for broadcasts to every host.</summary>
    public string FanoutExchange => Topic + "_fanout";

    /// <summary>The topic exchange for heartbeats, operation and lifecycle events (<c>heartbeat.{host}</c>, <c>operation.{host}.{state}</c>, <c>lifecycle.{host}.{kind}</c>).</summary>
    public string EventsExchange => Topic + ".events";

    /// <summary>Where commands go once they exceed the delivery limit.</summary>
    public string DeadLetterExchange => Topic + ".dead";

    /// <summary>The queue that keeps dead-lettered commands for an operator.</summary>
    public string DeadLetterQueue => Topic + ".dead";

    /// <summary>
    /// The methods that change nothing on an agent (answered at once, nothing journaled). The fleet client sends
    /// them to <see cref="ReadsQueue"/>: a lost read is simply asked again, so it need not wait for a quorum queue's
    /// disk commit the way a command must.
    /// </summary>
    public static IReadOnlySet<string> ReadOnlyMethods { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "ping", "list_drivers", "get_host", "list_instances", "get_instance", "get_operation", "get_call_result",
    };

    /// <summary>
    /// The transient queue (and routing key) of one host's read-only calls: a classic, non-durable, auto-delete
    /// queue that exists while the agent is connected (<c>{topic}_reads.{host}</c>, beside oslo's <c>{topic}_fanout</c>).
    /// </summary>
    public string ReadsQueue(string host)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        return Topic + "_reads." + host;
    }

    /// <summary>The queue (and routing key) of one host.</summary>
    public string HostQueue(string host)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        return Topic + "." + host;
    }
}
