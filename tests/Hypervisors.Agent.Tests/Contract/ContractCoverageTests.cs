using System.Reflection;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Hvctl;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace Hypervisors.Agent.Tests.Contract;

/// <summary>Issue 11 item 4: the API covers the whole driver contract, snapshots included.</summary>
public sealed class ContractCoverageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_contract_member_has_a_route()
    {
        await using var agent = await TestAgent.StartAsync();
        var served = agent.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(endpoint => endpoint.Metadata.GetMetadata<ContractMemberMetadata>()?.Member)
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
        var contract = typeof(IHypervisorDriver).GetMethods().Select(m => m.Name)
            .Concat(typeof(IHypervisorDriver).GetProperties().Select(p => p.Name))
            .Where(name => !name.StartsWith("get_", StringComparison.Ordinal) && name is not (nameof(IHypervisorDriver.GetService) or nameof(IAsyncDisposable.DisposeAsync)))
            .ToHashSet(StringComparer.Ordinal);

        Assert.Empty(contract.Except(served));
        Assert.Empty(served.Except(contract));
    }

    [Fact]
    public async Task Snapshots_and_power_off_run_through_the_api()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();
        var wait = TimeSpan.FromSeconds(30);
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("snap", start: true), wait, Ct);

        var taken = await agent.Client.CreateSnapshotAsync("local", id, "before-upgrade", wait, cancellationToken: Ct);
        var snapshot = taken.ResultAs<SnapshotInfo>()!;
        var listed = await agent.Client.ListSnapshotsAsync("local", id, Ct);
        var powerOff = await agent.Client.RunActionAsync("local", id, "power-off", wait, cancellationToken: Ct);
        var deleted = await agent.Client.DeleteSnapshotAsync("local", id, snapshot.SnapshotId, wait, cancellationToken: Ct);
        var bad = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.CreateSnapshotAsync("local", id, "has spaces", cancellationToken: Ct));

        Assert.Equal(("create-snapshot", OperationState.Succeeded, "before-upgrade"), (taken.Kind, taken.State, snapshot.Name));
        Assert.Equal(snapshot.SnapshotId, Assert.Single(listed).SnapshotId);
        Assert.Equal(OperationState.Succeeded, powerOff.State);
        Assert.Equal(PowerState.Shutdown, (await agent.Client.GetInstanceAsync("local", id, Ct)).PowerState);
        Assert.Equal(OperationState.Succeeded, deleted.State);
        Assert.Empty(await agent.Client.ListSnapshotsAsync("local", id, Ct));
        Assert.Equal(("name", 400), (bad.Problem.Field, bad.StatusCode));
    }

    [Fact]
    public async Task Hvctl_covers_snapshots_devices_and_power_off()
    {
        var volumes = Directory.CreateTempSubdirectory("hv-agent-hvctl-volumes-");
        try
        {
            await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:AllowedHostDirectories:0"] = volumes.FullName });
            var id = Guid.NewGuid().ToString();
            var volume = Path.Combine(volumes.FullName, "data.img");

            var results = new List<(int Code, string Out)>();
            foreach (var args in new[]
            {
                new[] { "create", id, "--name", "cli-snap", "--start" },
                ["snapshot", "create", id, "--name", "s1"],
                ["volume", "attach", id, "--volume-id", "data", "--source", volume],
                ["interface", "attach", id, "--network", "br0", "--mac", "52:54:00:00:00:42"],
                ["devices", id],
                ["power-off", id],
                ["interface", "detach", id, "52:54:00:00:00:42"],
                ["volume", "detach", id, "data"],
            })
            {
                results.Add(await RunAsync(agent, args));
            }

            var snapshots = await RunAsync(agent, "snapshot", "list", id, "--json");
            var snapshotId = System.Text.Json.JsonSerializer.Deserialize<List<SnapshotInfo>>(snapshots.Out, AgentJson.Options)!.Single().SnapshotId;
            var deleteSnapshot = await RunAsync(agent, "snapshot", "delete", id, snapshotId);

            Assert.All(results, r => Assert.Equal(0, r.Code));
            Assert.Contains("52:54:00:00:00:42", results[4].Out, StringComparison.Ordinal);
            Assert.Contains("data", results[4].Out, StringComparison.Ordinal);
            Assert.Equal(0, deleteSnapshot.Code);
            Assert.Empty(await agent.Client.ListSnapshotsAsync("local", Guid.Parse(id), Ct));
            Assert.Equal(PowerState.Shutdown, (await agent.Client.GetInstanceAsync("local", Guid.Parse(id), Ct)).PowerState);
        }
        finally
        {
            volumes.Delete(recursive: true);
        }
    }

    private static async Task<(int Code, string Out)> RunAsync(TestAgent agent, params string[] args)
    {
        using var console = new StringWriter();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, Out = new AnsiConsoleOutput(console) });
        var code = await HvctlApp.RunAsync(["--url", agent.BaseAddress.ToString(), .. args], new HvctlOutput(ansi, output, error), cancellationToken: Ct);
        return (code, console + output.ToString() + error);
    }
}
