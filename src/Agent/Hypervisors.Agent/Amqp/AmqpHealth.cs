using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hypervisors.Agent.Amqp;

/// <summary>
/// The AMQP side's readiness: healthy only after the agent's own no-op call made the round trip through the broker
/// (published to its queue, consumed, answered by direct reply-to). Connected is not enough.
/// </summary>
internal sealed class AmqpHealth : IHealthCheck
{
    private volatile StatusSnapshot _status = new(false, "not connected to the broker yet");

    public bool IsReady => _status.Ready;

    public string Description => _status.Description;

    public void Set(bool ready, string description) => _status = new StatusSnapshot(ready, description);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = _status;
        return Task.FromResult(status.Ready ? HealthCheckResult.Healthy(status.Description) : HealthCheckResult.Unhealthy(status.Description));
    }

    private sealed record StatusSnapshot(bool Ready, string Description);
}
