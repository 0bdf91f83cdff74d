namespace Hypervisors.Agent.Amqp;

/// <summary>
/// The agent's own AMQP settings in <c>Agent:Amqp</c>, beside the broker settings (<see cref="Fleet.BrokerOptions"/>,
/// bound from the same section). The agent joins the broker only when <c>Agent:Amqp:Endpoints</c> is set.
/// </summary>
public sealed class AmqpAgentOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Agent:Amqp";

    /// <summary>This agent's name in the fleet: its queue is <c>{topic}.{host}</c>; the machine name by default.</summary>
    public string? Host { get; set; }

    /// <summary>How many deliveries of one command the queues allow before dead-lettering it (<c>x-delivery-limit</c>).</summary>
    public int DeliveryLimit { get; set; } = 5;

    /// <summary>How many unacknowledged commands the agent takes at once.</summary>
    public ushort Prefetch { get; set; } = 64;

    /// <summary>Whether the control exchange is durable: must match the clients' oslo.messaging setting (false unless they use <c>amqp_durable_queues</c> or quorum queues).</summary>
    public bool DurableControlExchange { get; set; }

    /// <summary>How often a heartbeat with the host's capacity is published.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the agent sends itself a no-op call through the broker.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the self-probe waits for its answer before the agent counts itself deaf and reconnects.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest a call waits for its operation to finish before it is answered with the pending operation.</summary>
    public TimeSpan MaxCallWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest the agent waits for a new connection to open and its queues and consumers to be set up; past it the
    /// attempt is dropped and retried (a broker that is still starting may accept the socket and then not answer).
    /// </summary>
    public TimeSpan SessionSetupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The first and the longest pause between reconnection attempts.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest pause between reconnection attempts.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The host name used for the queue.</summary>
    public string EffectiveHost => string.IsNullOrEmpty(Host) ? Environment.MachineName : Host;
}
