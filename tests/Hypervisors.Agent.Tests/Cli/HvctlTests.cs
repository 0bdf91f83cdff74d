using System.Text.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Hvctl;
using Spectre.Console;

namespace Hypervisors.Agent.Tests.Cli;

public sealed class HvctlTests
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(TestAgent? agent, params string[] args)
    {
        using var console = new StringWriter();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(console),
        });
        var withUrl = agent is null ? args : ["--url", agent.BaseAddress.ToString(), .. args];
        var code = await HvctlApp.RunAsync(withUrl, new HvctlOutput(ansi, output, error), cancellationToken: TestContext.Current.CancellationToken);
        return (code, console + output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_list_show_and_delete_work_for_scripts_with_json()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();

        var create = await RunAsync(agent, "create", id.ToString(), "--name", "cli-1", "--vcpus", "2", "--memory", "1024", "--network", "default", "--json");
        var list = await RunAsync(agent, "list", "--json");
        var show = await RunAsync(agent, "show", id.ToString(), "--json");
        var delete = await RunAsync(agent, "delete", id.ToString(), "--json");

        Assert.Equal(0, create.ExitCode);
        Assert.Equal(OperationState.Succeeded, JsonSerializer.Deserialize<OperationResource>(create.Out, AgentJson.Options)!.State);
        Assert.Equal(id, Assert.Single(JsonSerializer.Deserialize<List<InstanceInfo>>(list.Out, AgentJson.Options)!).Id);
        var shown = JsonSerializer.Deserialize<InstanceInfo>(show.Out, AgentJson.Options)!;
        Assert.Equal(("cli-1", 2, 1024L), (shown.Name, shown.VCpus, shown.MemoryMiB));
        Assert.Equal(0, delete.ExitCode);
        Assert.Empty(await agent.Client.ListInstancesAsync("local", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Actions_drive_the_power_state_and_tables_show_it_to_people()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();
        await RunAsync(agent, "create", id.ToString(), "--name", "cli-2");

        var start = await RunAsync(agent, "start", id.ToString());
        var pause = await RunAsync(agent, "pause", id.ToString());
        var listPaused = await RunAsync(agent, "list");
        var unpause = await RunAsync(agent, "unpause", id.ToString());
        var reboot = await RunAsync(agent, "reboot", id.ToString(), "--hard");
        var stop = await RunAsync(agent, "stop", id.ToString(), "--timeout", "00:00:05");
        var host = await RunAsync(agent, "host");

        Assert.All([start, pause, unpause, reboot, stop], r => Assert.Equal(0, r.ExitCode));
        Assert.Contains("start " + id + ": succeeded", start.Out, StringComparison.Ordinal);
        Assert.Contains("cli-2", listPaused.Out, StringComparison.Ordinal);
        Assert.Contains("paused", listPaused.Out, StringComparison.Ordinal);
        Assert.Contains("Memory (MiB)", host.Out, StringComparison.Ordinal);
        Assert.Equal(PowerState.Shutdown, (await agent.Client.GetInstanceAsync("local", id, TestContext.Current.CancellationToken)).PowerState);
    }

    [Fact]
    public async Task A_refused_action_exits_1_with_the_problem_and_an_unreachable_agent_exits_69()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();
        await RunAsync(agent, "create", id.ToString(), "--name", "cli-3");

        var refused = await RunAsync(agent, "pause", id.ToString(), "--json");
        var missing = await RunAsync(agent, "show", Guid.NewGuid().ToString());
        var unreachable = await RunAsync(null, "--url", "http://127.0.0.1:1", "list");

        Assert.Equal(ExitCodes.Failed, refused.ExitCode);
        Assert.Equal(HypervisorErrorKind.InvalidPowerState, JsonSerializer.Deserialize<AgentProblem>(refused.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(), AgentJson.Options)!.Kind);
        Assert.Equal(ExitCodes.Failed, missing.ExitCode);
        Assert.Contains("NotFound", missing.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.AgentDown, unreachable.ExitCode);
        Assert.Single(unreachable.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Events_replays_from_an_id_and_the_token_file_is_sent()
    {
        var tokenFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(tokenFile, "cli-token-0123456789abcdef\n", TestContext.Current.CancellationToken);
            await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:TokenFile"] = tokenFile }, token: "cli-token-0123456789abcdef");
            var id = Guid.NewGuid();
            await agent.Client.CreateInstanceAsync("local", id, Specs.Small("cli-4", start: true), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

            var withoutToken = await RunAsync(agent, "list");
            var events = await RunAsync(agent, "--token-file", tokenFile, "events", "--since", "0", "--count", "2", "--json");

            Assert.Equal(ExitCodes.Failed, withoutToken.ExitCode);
            Assert.Equal(0, events.ExitCode);
            var lines = events.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonSerializer.Deserialize<AgentEvent>(line, AgentJson.Options)!).ToList();
            Assert.Equal([InstanceEventKind.Created, InstanceEventKind.Started], lines.Select(e => e.Kind));
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }
}
