using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Samples.Scheduler;

namespace Hypervisors.Agent.Tests.Scheduler;

public sealed class SchedulerTests
{
    [Fact]
    public async Task The_sample_scheduler_fills_two_agents_by_free_memory_and_vcpus_and_reports_what_does_not_fit()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var big = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:VCpus"] = "8", ["Agent:Drivers:local:MemoryMiB"] = "8192" });
        await using var small = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:VCpus"] = "4", ["Agent:Drivers:local:MemoryMiB"] = "4096" });
        var scheduler = new PlacementScheduler([new AgentTarget("big", big.Client), new AgentTarget("small", small.Client)]);

        var placements = new List<Placement>();
        for (var i = 0; i < 7; i++)
        {
            placements.Add(await scheduler.PlaceAsync(new PlacementRequest(Guid.NewGuid(), $"sched-{i}", 2, 2048), ct));
        }

        Assert.Equal("big", placements[0].Agent);
        Assert.Equal(4, placements.Count(p => p.Agent == "big"));
        Assert.Equal(2, placements.Count(p => p.Agent == "small"));
        var unplaced = Assert.Single(placements, p => !p.IsPlaced);
        Assert.Contains("free", unplaced.Reason, StringComparison.Ordinal);
        var bigInstances = await big.Client.ListInstancesAsync("local", ct);
        var smallInstances = await small.Client.ListInstancesAsync("local", ct);
        Assert.Equal(4, bigInstances.Count(i => i.PowerState == PowerState.Running));
        Assert.Equal(2, smallInstances.Count(i => i.PowerState == PowerState.Running));
        Assert.Equal(0, (await big.Client.GetHostAsync("local", ct)).Host.MemoryMiBFree);
        Assert.Equal(0, (await small.Client.GetHostAsync("local", ct)).Host.MemoryMiBFree);
    }

    [Fact]
    public async Task When_the_chosen_host_is_full_after_all_the_scheduler_cleans_up_and_moves_on()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var first = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:VCpus"] = "4", ["Agent:Drivers:local:MemoryMiB"] = "4096" });
        await using var second = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:VCpus"] = "4", ["Agent:Drivers:local:MemoryMiB"] = "2048" });
        var scheduler = new PlacementScheduler([new AgentTarget("first", first.Client), new AgentTarget("second", second.Client)]);
        first.Driver().GetService<Hypervisors.Fake.FakeFaults>()!.FailNext(InstanceOperation.Create, () => new InsufficientResourcesException("another scheduler took the memory"));

        var placement = await scheduler.PlaceAsync(new PlacementRequest(Guid.NewGuid(), "moved-1", 1, 1024), ct);

        Assert.Equal("second", placement.Agent);
        Assert.Empty(await first.Client.ListInstancesAsync("local", ct));
    }

    [Fact]
    public void The_scheduler_talks_to_agents_through_the_api_only()
    {
        var references = typeof(PlacementScheduler).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();

        Assert.Contains("Hypervisors.Agent.Client", references);
        Assert.DoesNotContain("Hypervisors.Agent", references);
        Assert.DoesNotContain(references, name => name!.StartsWith("Hypervisors.Fake", StringComparison.Ordinal));
    }
}
