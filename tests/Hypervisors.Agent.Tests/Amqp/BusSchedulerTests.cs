using System.Diagnostics;
using Hypervisors.Agent.Fleet;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Samples.BusScheduler;

namespace Hypervisors.Agent.Tests.Amqp;

/// <summary>The bus scheduler sample: three agent processes, 300 instances placed by reported capacity, one agent killed and seen down.</summary>
public sealed class BusSchedulerTests
{
    [Fact]
    public async Task Three_agents_take_300_instances_by_reported_capacity_and_a_killed_one_is_seen_down()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        var capacities = new Dictionary<string, (int VCpus, long MemoryMiB)>
        {
            ["bus-a"] = (160, 40960),
            ["bus-b"] = (120, 30720),
            ["bus-c"] = (80, 20480),
        };
        var directories = capacities.Keys.ToDictionary(host => host, _ => Directory.CreateTempSubdirectory("hv-bus-").FullName);
        var agents = new Dictionary<string, AgentProcess>();
        try
        {
            foreach (var (host, (vcpus, memory)) in capacities)
            {
                var settings = scope.AgentSettings(host);
                settings["Agent:Drivers:local:Kind"] = "fake";
                settings["Agent:Drivers:local:VCpus"] = vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture);
                settings["Agent:Drivers:local:MemoryMiB"] = memory.ToString(System.Globalization.CultureInfo.InvariantCulture);
                agents[host] = await AgentProcess.StartAsync(directories[host], settings, ct);
            }

            var downAfter = TimeSpan.FromSeconds(3);
            await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { DownAfter = downAfter }, ct);
            await AmqpWait.UntilAsync(() => fleet.Services is { Count: 3 } services && services.All(s => s.IsUp && s.Heartbeat.Ready) ? fleet.Services : null, TimeSpan.FromSeconds(60));

            var scheduler = new BusPlacementScheduler(fleet);
            var placements = new List<BusPlacement>();
            for (var i = 0; i < 300; i++)
            {
                placements.Add(await scheduler.PlaceAsync(new BusPlacementRequest(Guid.NewGuid(), $"bus-{i:D3}", 1, 256), ct));
            }

            Assert.All(placements, p => Assert.True(p.IsPlaced, p.Reason));
            var perHost = placements.GroupBy(p => p.Host!).ToDictionary(g => g.Key, g => g.Count());
            TestContext.Current.TestOutputHelper?.WriteLine("placed: " + string.Join(", ", perHost.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}")));
            // Weighing by free memory levels the hosts: each ends with the same free memory (5120 MiB), within a few
            // instances for heartbeats in flight.
            Assert.InRange(perHost["bus-a"], 137, 143);
            Assert.InRange(perHost["bus-b"], 97, 103);
            Assert.InRange(perHost["bus-c"], 57, 63);
            foreach (var (host, count) in perHost)
            {
                var instances = await fleet.CallAsync(host, "list_instances", new System.Text.Json.Nodes.JsonObject { ["driver"] = "local" }, cancellationToken: ct);
                Assert.Equal(count, instances!.AsArray().Count(i => i!["powerState"]!.GetValue<string>() == "Running"));
            }

            var killedAt = Stopwatch.StartNew();
            await agents["bus-c"].KillAsync();
            await AmqpWait.UntilAsync(() => fleet.Services.Single(s => s.Host == "bus-c") is { IsUp: false } ? fleet.Services : null, downAfter + TimeSpan.FromSeconds(5));
            var seenDownAfter = killedAt.Elapsed;
            Assert.True(seenDownAfter <= downAfter + TimeSpan.FromSeconds(2), $"seen down after {seenDownAfter}");
            Assert.All(fleet.Services.Where(s => s.Host != "bus-c"), s => Assert.True(s.IsUp));

            // New work now goes only to the services that are up.
            var after = await scheduler.PlaceAsync(new BusPlacementRequest(Guid.NewGuid(), "after-kill", 1, 256), ct);
            Assert.Contains(after.Host, new[] { "bus-a", "bus-b" });
        }
        finally
        {
            foreach (var agent in agents.Values)
            {
                await agent.DisposeAsync();
            }

            foreach (var directory in directories.Values)
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
