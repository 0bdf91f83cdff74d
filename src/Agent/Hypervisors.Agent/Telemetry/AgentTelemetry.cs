using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Hypervisors.Agent.Telemetry;

/// <summary>Trace source names.</summary>
internal static class AgentTelemetry
{
    /// <summary>
    /// The ActivitySource of operations; driver calls are the SDK's <see cref="OpenTelemetryHypervisorDriver"/>
    /// activities (source "Hypervisors"), API requests ASP.NET Core's own, their parents.
    /// </summary>
    public const string SourceName = "Hypervisors.Agent";

    /// <summary>The source (immutable, shared by the process as ActivitySources are meant to be).</summary>
    public static readonly ActivitySource Source = new(SourceName);
}

/// <summary>
/// The agent's own measurements on a <see cref="Meter"/> named <see cref="MeterName"/>, created through the host's
/// <see cref="IMeterFactory"/>; driver calls are measured by the SDK's <see cref="OpenTelemetryHypervisorDriver"/>
/// (meter "Hypervisors"), requests by ASP.NET Core. OpenTelemetry collects all three; <c>/metrics</c> serves them
/// in the Prometheus text format.
/// </summary>
internal sealed class AgentMetrics
{
    public const string MeterName = "Hypervisors.Agent";

    public AgentMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        Operations = meter.CreateCounter<long>("hypervisors.agent.operations", "{operation}", "Finished operations by driver, kind and state.");
        Instances = meter.CreateGauge<long>("hypervisors.agent.instances", "{instance}", "Instances by driver and power state, as the last sync saw them.");
        Drift = meter.CreateCounter<long>("hypervisors.agent.power_state_drift", "{drift}", "Power state drifts the sync found, by driver.");
    }

    public Counter<long> Operations { get; }

    public Gauge<long> Instances { get; }

    public Counter<long> Drift { get; }
}
