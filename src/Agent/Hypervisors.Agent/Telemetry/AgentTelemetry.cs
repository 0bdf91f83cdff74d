using System.Diagnostics;
using Prometheus;

namespace Hypervisors.Agent.Telemetry;

/// <summary>Trace source names.</summary>
internal static class AgentTelemetry
{
    /// <summary>The ActivitySource of driver calls and operations; API requests are ASP.NET Core's own activities, their parents.</summary>
    public const string SourceName = "Hypervisors.Agent";

    /// <summary>The source (immutable, shared by the process as ActivitySources are meant to be).</summary>
    public static readonly ActivitySource Source = new(SourceName);
}

/// <summary>The agent's Prometheus metrics, in a registry of its own (so several agents can share a process, as tests do).</summary>
internal sealed class AgentMetrics
{
    public AgentMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        DriverCalls = factory.CreateCounter("hypervisors_agent_driver_calls_total", "Driver calls by driver, operation and outcome.",
            new CounterConfiguration { LabelNames = ["driver", "operation", "outcome"] });
        DriverCallDuration = factory.CreateHistogram("hypervisors_agent_driver_call_duration_seconds", "Driver call latency.",
            new HistogramConfiguration { LabelNames = ["driver", "operation"], Buckets = Histogram.ExponentialBuckets(0.0001, 2.5, 14) });
        Operations = factory.CreateCounter("hypervisors_agent_operations_total", "Finished operations by driver, kind and state.",
            new CounterConfiguration { LabelNames = ["driver", "kind", "state"] });
        Instances = factory.CreateGauge("hypervisors_agent_instances", "Instances by driver and power state, as last known.",
            new GaugeConfiguration { LabelNames = ["driver", "power_state"] });
        Drift = factory.CreateCounter("hypervisors_agent_power_state_drift_total", "Power state drifts the sync found.",
            new CounterConfiguration { LabelNames = ["driver"] });
    }

    public CollectorRegistry Registry { get; }

    public Counter DriverCalls { get; }

    public Histogram DriverCallDuration { get; }

    public Counter Operations { get; }

    public Gauge Instances { get; }

    public Counter Drift { get; }
}
