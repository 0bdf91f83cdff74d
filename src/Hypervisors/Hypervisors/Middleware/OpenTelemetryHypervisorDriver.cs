using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Hypervisors;

/// <summary>
/// Traces and measures every driver call with the .NET primitives OpenTelemetry listens to: an
/// <see cref="ActivitySource"/> and a <see cref="Meter"/>, both named <see cref="SourceName"/> ("Hypervisors").
/// Each call is a client activity named after its operation and counts once in <c>hypervisors.operations</c>
/// and <c>hypervisors.operation.duration</c> (seconds), tagged <c>hypervisor.type</c>, <c>hypervisor.driver</c>,
/// <c>hypervisor.operation</c> and, on failure, <c>error.type</c> (the <see cref="HypervisorErrorKind"/>).
/// Events delivered through <see cref="WatchEventsAsync"/> count in <c>hypervisors.events</c>.
/// </summary>
public sealed class OpenTelemetryHypervisorDriver : InterceptingHypervisorDriver
{
    /// <summary>The name of the activity source and the meter: add it to OpenTelemetry's tracer and meter providers.</summary>
    public const string SourceName = "Hypervisors";

    // Process-wide by design: ActivitySource and Meter are registrations that listeners find by name.
    private static readonly string? Version = typeof(OpenTelemetryHypervisorDriver).Assembly.GetName().Version?.ToString();
    private static readonly ActivitySource Source = new(SourceName, Version);
    private static readonly Meter Meter = new(SourceName, Version);
    private static readonly Counter<long> Operations = Meter.CreateCounter<long>("hypervisors.operations", "{operation}", "Driver calls, by driver, operation and outcome.");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("hypervisors.operation.duration", "s", "Driver call duration.");
    private static readonly Counter<long> Events = Meter.CreateCounter<long>("hypervisors.events", "{event}", "Lifecycle events delivered to watchers.");

    private readonly string _hypervisorType;
    private readonly string _driverName;

    /// <summary>Wraps <paramref name="innerDriver"/>; <paramref name="driverName"/> (the registration name) tags its measurements.</summary>
    public OpenTelemetryHypervisorDriver(IHypervisorDriver innerDriver, string? driverName = null)
        : base(innerDriver)
    {
        _hypervisorType = innerDriver.Capabilities.HypervisorType;
        _driverName = driverName ?? _hypervisorType;
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) =>
        Count(InnerDriver.WatchEventsAsync(cancellationToken), cancellationToken);

    /// <inheritdoc />
    protected override async Task<T> InterceptAsync<T>(InstanceOperation operation, Guid? instanceId, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var operationName = operation.ToString();
        using var activity = Source.StartActivity(operationName, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag("hypervisor.type", _hypervisorType);
            activity.SetTag("hypervisor.driver", _driverName);
            activity.SetTag("hypervisor.operation", operationName);
            if (instanceId is { } id)
            {
                activity.SetTag("hypervisor.instance.id", id.ToString());
            }
        }

        var started = Stopwatch.GetTimestamp();
        string? errorType = null;
        try
        {
            return await call(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            errorType = ErrorKindOf(ex);
            activity?.SetStatus(ActivityStatusCode.Error, errorType);
            activity?.SetTag("error.type", errorType);
            throw;
        }
        finally
        {
            var tags = new TagList
            {
                { "hypervisor.type", _hypervisorType },
                { "hypervisor.driver", _driverName },
                { "hypervisor.operation", operationName },
            };
            if (errorType is not null)
            {
                tags.Add("error.type", errorType);
            }

            Operations.Add(1, tags);
            Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    private async IAsyncEnumerable<InstanceEvent> Count(IAsyncEnumerable<InstanceEvent> events, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in events.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            Events.Add(1, new TagList { { "hypervisor.type", _hypervisorType }, { "hypervisor.driver", _driverName }, { "hypervisor.event", item.Kind.ToString() } });
            yield return item;
        }
    }
}
