using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Operations;

namespace Hypervisors.Agent.Hosting;

/// <summary>
/// At start: logs the configuration; once Kestrel has bound every listener, logs where the agent listens and
/// re-drives the operations the previous run left unfinished (new submissions wait until those are queued).
/// A start that fails to bind therefore never touches a hypervisor.
/// </summary>
internal sealed class AgentStartup(
#pragma warning disable CS9113 // Held, not read: resolving it here makes the container own (and release) the data directory lock.
    DataDirectoryLock dataDirectoryLock,
#pragma warning restore CS9113
    OperationJournal journal,
    OperationService operations,
    AgentStartupInfo info,
    Security.BearerToken token,
    IHostApplicationLifetime lifetime,
    Microsoft.AspNetCore.Hosting.Server.IServer server,
    ILogger<AgentStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Log.AgentStarting(logger, info.Urls, info.DataDirectory, token.IsConfigured ? "bearer token" : "none (loopback only)");
        Log.DriverKindsOffered(logger, string.Join(", ", info.DriverKinds));
        foreach (var skipped in info.SkippedDriverPackages)
        {
            Log.DriverPackageSkipped(logger, skipped);
        }

        foreach (var (name, kind) in info.Drivers)
        {
            Log.DriverConfigured(logger, name, kind);
        }

        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses ?? [];
            Log.AgentListening(logger, string.Join(", ", addresses));
            var count = operations.RecoverUnfinished();
            Log.JournalOpened(logger, journal.Path, count);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// On stop (SIGTERM): before anything else stops, the agent stops taking operations; then running ones get
/// <c>Agent:DrainTime</c> to finish.
/// </summary>
internal sealed class OperationDrain(OperationService operations, Microsoft.Extensions.Options.IOptions<Configuration.AgentOptions> options) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        operations.StopAccepting();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => operations.DrainAsync(options.Value.DrainTime, cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Ready while the journal can be written and is still the file the agent opened.</summary>
internal sealed class JournalHealthCheck(OperationJournal journal) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(journal.Problem is { } problem
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy(problem)
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("The journal is writable."));
}

/// <summary>Prunes finished operations older than <c>Agent:OperationRetention</c>, at start and then every tenth of it (at most hourly).</summary>
internal sealed class OperationPruner(OperationJournal journal, TimeProvider time, Microsoft.Extensions.Options.IOptions<Configuration.AgentOptions> options, ILogger<OperationPruner> logger) : BackgroundService
{
    /// <summary>Deletes the operations that finished before <paramref name="now"/> minus the retention; returns how many.</summary>
    public async Task<int> PruneOnceAsync(DateTimeOffset now)
    {
        var before = now - options.Value.OperationRetention;
        var count = await journal.PruneOperationsAsync(before).ConfigureAwait(false);
        if (count > 0)
        {
            Log.OperationsPruned(logger, count, before);
        }

        return count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.OperationRetention / 10;
        using var timer = new PeriodicTimer(period < TimeSpan.FromHours(1) ? period : TimeSpan.FromHours(1), time);
        try
        {
            do
            {
                try
                {
                    await PruneOnceAsync(time.GetUtcNow()).ConfigureAwait(false);
                }
                catch (HypervisorException)
                {
                    // The journal cannot be written (readiness says so); the next round tries again.
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
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
