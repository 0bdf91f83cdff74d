using System.Text.Json.Nodes;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Fleet;

namespace Hypervisors.Samples.BusScheduler;

/// <summary>What to place.</summary>
/// <param name="Id">The instance id (kept across retries, so a retried create never duplicates).</param>
/// <param name="Name">Its name.</param>
/// <param name="VCpus">vCPUs it needs.</param>
/// <param name="MemoryMiB">Memory it needs.</param>
public sealed record BusPlacementRequest(Guid Id, string Name, int VCpus, long MemoryMiB);

/// <summary>Where an instance went, or why it went nowhere.</summary>
public sealed record BusPlacement(BusPlacementRequest Request, string? Host, string? Reason)
{
    public bool IsPlaced => Host is not null;
}

/// <summary>
/// Nova's filter-and-weigh over the bus: the candidates are the services that are up, their free vCPUs and memory
/// come from their last heartbeat less what this scheduler placed since that heartbeat was taken, the host with the
/// most free memory wins, and the create is a call to that host's queue. A host that says it is full after all is
/// left out and the next one tried.
/// </summary>
public sealed class BusPlacementScheduler(FleetClient fleet, string driver = "local")
{
    private readonly Lock _gate = new();
    private readonly List<Claim> _claims = [];

    public async Task<BusPlacement> PlaceAsync(BusPlacementRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var refused = new HashSet<string>(StringComparer.Ordinal);
        var reasons = new List<string>();
        while (true)
        {
            var best = Candidates()
                .Where(c => !refused.Contains(c.Host) && c.VCpusFree >= request.VCpus && c.MemoryMiBFree >= request.MemoryMiB)
                .OrderByDescending(c => c.MemoryMiBFree)
                .ThenByDescending(c => c.VCpusFree)
                .ThenBy(c => c.Host, StringComparer.Ordinal)
                .FirstOrDefault();
            if (best is null)
            {
                reasons.Add($"no service that is up has {request.VCpus} vCPUs and {request.MemoryMiB} MiB free");
                return new BusPlacement(request, null, string.Join("; ", reasons));
            }

            var claim = new Claim(best.Host, request.VCpus, request.MemoryMiB);
            lock (_gate)
            {
                _claims.Add(claim);
            }

            try
            {
                await fleet.CallAsync(best.Host, "create_instance", new JsonObject
                {
                    ["driver"] = driver,
                    ["instance_id"] = request.Id.ToString(),
                    ["spec"] = new JsonObject
                    {
                        ["name"] = request.Name,
                        ["vCpus"] = request.VCpus,
                        ["memoryMiB"] = request.MemoryMiB,
                        ["startAfterCreate"] = true,
                        ["metadata"] = new JsonObject { ["scheduled-by"] = "bus-scheduler" },
                    },
                }, cancellationToken: cancellationToken).ConfigureAwait(false);
                claim.CompletedAt = DateTimeOffset.UtcNow;
                return new BusPlacement(request, best.Host, null);
            }
            catch (AgentApiException exception) when (exception.Problem.Kind == HypervisorErrorKind.InsufficientResources || exception.Retryable)
            {
                lock (_gate)
                {
                    _claims.Remove(claim);
                }

                reasons.Add($"{best.Host}: {exception.Problem.Kind} {exception.Message}");
                refused.Add(best.Host);
            }
        }
    }

    private List<Candidate> Candidates()
    {
        var candidates = new List<Candidate>();
        lock (_gate)
        {
            foreach (var service in fleet.Services.Where(s => s.IsUp && s.Heartbeat.Ready))
            {
                var capacity = service.Heartbeat.Drivers.FirstOrDefault(d => d.Driver == driver && d.Error is null);
                if (capacity is null)
                {
                    continue;
                }

                // Placements the heartbeat cannot have counted yet: still running, or finished after it was taken.
                var pending = _claims.Where(c => c.Host == service.Host && (c.CompletedAt is null || c.CompletedAt >= service.Heartbeat.SentAt)).ToList();
                candidates.Add(new Candidate(service.Host, capacity.VCpusFree - pending.Sum(c => c.VCpus), capacity.MemoryMiBFree - pending.Sum(c => c.MemoryMiB)));
            }

            _claims.RemoveAll(c => c.CompletedAt is { } done && fleet.Services.Any(s => s.Host == c.Host && s.Heartbeat.SentAt > done));
        }

        return candidates;
    }

    private sealed record Candidate(string Host, int VCpusFree, long MemoryMiBFree);

    private sealed class Claim(string host, int vcpus, long memoryMiB)
    {
        public string Host { get; } = host;

        public int VCpus { get; } = vcpus;

        public long MemoryMiB { get; } = memoryMiB;

        public DateTimeOffset? CompletedAt { get; set; }
    }
}
