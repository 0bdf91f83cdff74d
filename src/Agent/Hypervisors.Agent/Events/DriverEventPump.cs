namespace Hypervisors.Agent.Events;

/// <summary>Copies each event-capable driver's lifecycle events into the event log (source "driver").</summary>
internal sealed class DriverEventPump(IHypervisorDriverRegistry registry, EventLog events, TimeProvider time, ILogger<DriverEventPump> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(registry.Names.Select(name => PumpAsync(name, stoppingToken)));

    private async Task PumpAsync(string name, CancellationToken stoppingToken)
    {
        await Task.Yield();
        var driver = registry.Get(name);
        if (!driver.Capabilities.SupportsEvents)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var instanceEvent in driver.WatchEventsAsync(stoppingToken).ConfigureAwait(false))
                {
                    // Not awaited one by one: events queued together share a journal commit; the queue keeps their order.
                    _ = events.RecordAsync(name, instanceEvent.InstanceId, instanceEvent.Kind, instanceEvent.PowerState, "driver", instanceEvent.Timestamp)
                        .ContinueWith(failed => Log.EventPumpFailed(logger, name, failed.Exception!), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                }

                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                Log.EventPumpFailed(logger, name, exception);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }
}
