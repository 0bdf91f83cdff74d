using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Operations;

namespace Hypervisors.Agent.Hosting;

/// <summary>At start, before the API listens: re-drives the operations the previous run left unfinished.</summary>
internal sealed class AgentStartup(OperationJournal journal, OperationService operations, AgentStartupInfo info, Security.BearerToken token, ILogger<AgentStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.AgentStarting(logger, info.Urls, info.DataDirectory, token.IsConfigured ? "bearer token" : "none (loopback only)");
        foreach (var (name, kind) in info.Drivers)
        {
            Log.DriverConfigured(logger, name, kind);
        }

        var count = operations.RecoverUnfinished();
        Log.JournalOpened(logger, journal.Path, count);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Ready when every driver answers a host query within five seconds.</summary>
internal sealed class DriversHealthCheck(IHypervisorDriverRegistry registry) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var failures = new List<string>();
        foreach (var name in registry.Names)
        {
            try
            {
                await registry.Get(name).GetHostInfoAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is HypervisorException or OperationCanceledException)
            {
                failures.Add($"{name}: {exception.Message}");
            }
        }

        return failures.Count == 0
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy($"{registry.Names.Count} driver(s) answer.")
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy(string.Join("; ", failures));
    }
}
