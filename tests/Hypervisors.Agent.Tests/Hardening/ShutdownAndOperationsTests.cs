using Hypervisors.Agent.Client;
using Hypervisors.Agent.Hosting;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Fake;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 items 9 and 10: the drain on stop, the operations list, pruning.</summary>
public sealed class ShutdownAndOperationsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static FakeFaults Faults(TestAgent agent) => agent.Driver().GetService<FakeHypervisorDriver>()!.Faults;

    [Fact]
    public async Task A_stop_lets_running_operations_finish_within_the_drain_time_and_takes_no_new_ones()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:DrainTime"] = "00:00:20" });
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("drain"), TimeSpan.FromSeconds(30), Ct);
        Faults(agent).SetLatency(InstanceOperation.Start, TimeSpan.FromSeconds(2));
        var start = await agent.Client.RunActionAsync("local", id, "start", cancellationToken: Ct);

        var stopping = agent.StopAsync();
        await Task.Delay(300, Ct);
        // Kestrel stops accepting connections; a request that reaches the agent meanwhile is refused as retryable.
        var late = await Assert.ThrowsAsync<HypervisorUnavailableException>(() =>
            agent.Service<Hypervisors.Agent.Operations.OperationService>().SubmitAsync("local", id, "pause", new Hypervisors.Agent.Operations.OperationRequest(), null, Ct));
        await stopping;

        Assert.True(late.IsTransient);
        Assert.Equal(OperationState.Succeeded, agent.Service<OperationJournal>().Get(start.Id)!.State);
        Assert.Equal(PowerState.Running, (await agent.Driver().GetInstanceAsync(id, Ct)).PowerState);
    }

    [Fact]
    public async Task What_outlasts_the_drain_time_is_journaled_as_interrupted_and_reconciled_at_the_next_start()
    {
        var data = Directory.CreateTempSubdirectory("hv-agent-drain-");
        try
        {
            string operationId;
            await using (var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:DrainTime"] = "00:00:00.200" }, data.FullName))
            {
                var id = Guid.NewGuid();
                await agent.Client.CreateInstanceAsync("local", id, Specs.Small("slow"), TimeSpan.FromSeconds(30), Ct);
                Faults(agent).SetLatency(InstanceOperation.Delete, TimeSpan.FromSeconds(30));
                operationId = (await agent.Client.DeleteInstanceAsync("local", id, cancellationToken: Ct)).Id;
                var started = DateTime.UtcNow;

                await agent.StopAsync();

                Assert.InRange(DateTime.UtcNow - started, TimeSpan.Zero, TimeSpan.FromSeconds(10));
                Assert.Equal(OperationState.Interrupted, agent.Service<OperationJournal>().Get(operationId)!.State);
            }

            await using var restarted = await TestAgent.StartAsync(dataDirectory: data.FullName);
            var reconciled = await restarted.Client.GetOperationAsync(operationId, TimeSpan.FromSeconds(30), Ct);
            Assert.True(reconciled.IsFinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Operations_are_listed_by_instance_and_state_in_pages()
    {
        await using var agent = await TestAgent.StartAsync();
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", first, Specs.Small("list-1"), TimeSpan.FromSeconds(30), Ct);
        await agent.Client.CreateInstanceAsync("local", second, Specs.Small("list-2"), TimeSpan.FromSeconds(30), Ct);
        foreach (var action in new[] { "start", "pause", "unpause" })
        {
            await agent.Client.RunActionAsync("local", first, action, TimeSpan.FromSeconds(30), cancellationToken: Ct);
        }

        var failed = await agent.Client.RunActionAsync("local", second, "pause", TimeSpan.FromSeconds(30), cancellationToken: Ct);
        var ofFirst = await agent.Client.ListOperationsAsync(instanceId: first, cancellationToken: Ct);
        var failures = await agent.Client.ListOperationsAsync(state: OperationState.Failed, cancellationToken: Ct);
        var pages = new List<OperationListResource> { await agent.Client.ListOperationsAsync(limit: 2, cancellationToken: Ct) };
        while (pages[^1].Next is { } next)
        {
            pages.Add(await agent.Client.ListOperationsAsync(after: next, limit: 2, cancellationToken: Ct));
        }

        Assert.Equal(["create", "start", "pause", "unpause"], ofFirst.Items.Select(o => o.Kind));
        Assert.Null(ofFirst.Next);
        Assert.Equal(failed.Id, Assert.Single(failures.Items).Id);
        Assert.Equal(6, pages.Sum(p => p.Items.Count));
        Assert.Equal(3, pages.Count);
        Assert.Equal(pages.SelectMany(p => p.Items).Select(o => o.Id).Order(StringComparer.Ordinal), pages.SelectMany(p => p.Items).Select(o => o.Id));
        await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.ListOperationsAsync(limit: 0, cancellationToken: Ct));
    }

    [Fact]
    public async Task Finished_operations_are_pruned_after_the_retention_and_unfinished_ones_kept()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:OperationRetention"] = "01:00:00", ["Agent:DrainTime"] = "00:00:00.100" });
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("prune"), TimeSpan.FromSeconds(30), Ct);
        Faults(agent).SetLatency(InstanceOperation.Start, TimeSpan.FromSeconds(30));
        var running = await agent.Client.RunActionAsync("local", id, "start", cancellationToken: Ct);
        var pruner = agent.Service<OperationPruner>();

        var early = await pruner.PruneOnceAsync(DateTimeOffset.UtcNow.AddMinutes(30));
        var late = await pruner.PruneOnceAsync(DateTimeOffset.UtcNow.AddHours(2));

        Assert.Equal(0, early);
        Assert.Equal(1, late);
        Assert.Equal(running.Id, Assert.Single((await agent.Client.ListOperationsAsync(cancellationToken: Ct)).Items).Id);
        Faults(agent).Reset();
    }
}
