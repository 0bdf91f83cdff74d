using Hypervisors.Agent.Client;

namespace Hypervisors.Samples.Scheduler;

/// <summary>An agent the scheduler may place on, and the driver to use there.</summary>
/// <param name="Name">A name for reports.</param>
/// <param name="Client">The agent's API.</param>
/// <param name="Driver">The driver's name in that agent.</param>
public sealed record AgentTarget(string Name, AgentClient Client, string Driver = "local");

/// <summary>What to place.</summary>
/// <param name="Id">The instance id (kept across retries, so a retried create never duplicates).</param>
/// <param name="Name">Its name.</param>
/// <param name="VCpus">vCPUs it needs.</param>
/// <param name="MemoryMiB">Memory it needs.</param>
public sealed record PlacementRequest(Guid Id, string Name, int VCpus, long MemoryMiB);

/// <summary>Where an instance went, or why it went nowhere.</summary>
/// <param name="Request">The request.</param>
/// <param name="Agent">The agent it runs on, or null.</param>
/// <param name="Reason">Why it was not placed, or null.</param>
public sealed record Placement(PlacementRequest Request, string? Agent, string? Reason)
{
    public bool IsPlaced => Agent is not null;
}

/// <summary>
/// A filter-and-weigh scheduler in the manner of Nova's: filter the hosts that have the free vCPUs and memory,
/// weigh by free memory (then free vCPUs), create and start the instance on the best one, and fall back to the
/// next when the agent says the host is full after all (another scheduler got there first) or the failure is
/// retryable.
/// </summary>
public sealed class PlacementScheduler(IReadOnlyList<AgentTarget> agents)
{
    private static readonly TimeSpan OperationWait = TimeSpan.FromSeconds(60);

    public async Task<Placement> PlaceAsync(PlacementRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var refused = new HashSet<string>(StringComparer.Ordinal);
        var reasons = new List<string>();
        while (true)
        {
            var candidates = await FreeResourcesAsync(cancellationToken).ConfigureAwait(false);
            var best = candidates
                .Where(c => !refused.Contains(c.Agent.Name) && c.Host.VCpusFree >= request.VCpus && c.Host.MemoryMiBFree >= request.MemoryMiB)
                .OrderByDescending(c => c.Host.MemoryMiBFree)
                .ThenByDescending(c => c.Host.VCpusFree)
                .FirstOrDefault();
            if (best.Agent is null)
            {
                reasons.Add($"no agent has {request.VCpus} vCPUs and {request.MemoryMiB} MiB free");
                return new Placement(request, null, string.Join("; ", reasons));
            }

            var operation = await best.Agent.Client.CreateInstanceAsync(best.Agent.Driver, request.Id, new CreateInstanceRequest
            {
                Name = request.Name,
                VCpus = request.VCpus,
                MemoryMiB = request.MemoryMiB,
                StartAfterCreate = true,
                Metadata = new Dictionary<string, string> { ["scheduled-by"] = "sample-scheduler" },
            }, OperationWait, cancellationToken).ConfigureAwait(false);
            operation = await best.Agent.Client.WaitForOperationAsync(operation, cancellationToken).ConfigureAwait(false);
            if (operation.State == OperationState.Succeeded)
            {
                return new Placement(request, best.Agent.Name, null);
            }

            var error = operation.Error!;
            reasons.Add($"{best.Agent.Name}: {error.Kind} {error.Detail}");
            if (error.Kind != HypervisorErrorKind.InsufficientResources && !error.Retryable)
            {
                return new Placement(request, null, string.Join("; ", reasons));
            }

            // The create left a defined but stopped instance behind; remove it before trying elsewhere.
            await best.Agent.Client.DeleteInstanceAsync(best.Agent.Driver, request.Id, OperationWait, cancellationToken: cancellationToken).ConfigureAwait(false);
            refused.Add(best.Agent.Name);
        }
    }

    private async Task<List<(AgentTarget Agent, HostInfo Host)>> FreeResourcesAsync(CancellationToken cancellationToken)
    {
        var hosts = new List<(AgentTarget, HostInfo)>();
        foreach (var agent in agents)
        {
            try
            {
                hosts.Add((agent, (await agent.Client.GetHostAsync(agent.Driver, cancellationToken).ConfigureAwait(false)).Host));
            }
            catch (Exception exception) when (exception is HttpRequestException or AgentApiException)
            {
                // An agent that does not answer is not a candidate this round.
            }
        }

        return hosts;
    }
}
