using System.Net;
using System.Net.Sockets;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Operations;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 items 5-7: listeners only from Agent:Listen, one agent per data directory, start-up refusals as one line with exit 78.</summary>
public sealed class StartupTests : IDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("hv-agent-startup-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _data.Delete(recursive: true);

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] settings) =>
        await AgentProcess.RunToExitAsync(["--Agent:Listen:0=http://127.0.0.1:0", $"--Agent:DataDirectory={_data.FullName}", .. settings], Ct);

    private static void AssertRefused((int ExitCode, string Output, string Error) run, string mentioned)
    {
        Assert.Equal(AgentStartupException.ConfigurationExitCode, run.ExitCode);
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("hypervisors-agent: ", line, StringComparison.Ordinal);
        Assert.Contains(mentioned, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Output + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", run.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_kestrel_section_cannot_add_a_listener_past_the_listen_policy() =>
        AssertRefused(await RunAsync("--Kestrel:Endpoints:extra:Url=http://0.0.0.0:0"), "Kestrel");

    [Fact]
    public async Task Hosting_urls_add_no_listener_beside_agent_listen()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();

        await using var agent = await AgentProcess.StartAsync(_data.FullName, new Dictionary<string, string> { ["urls"] = $"http://127.0.0.1:{port}" }, Ct);
        using var http = new HttpClient();

        using var health = await http.GetAsync(new Uri(agent.BaseAddress, "/healthz"), Ct);

        Assert.NotEqual(port, agent.BaseAddress.Port);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{port}/healthz", Ct));
    }

    [Theory]
    [InlineData("--Agent:MaxWait=soon", "Agent:MaxWait")]
    [InlineData("--Agent:DrainTime=-00:00:01", "Agent:DrainTime")]
    [InlineData("--Agent:TokenFile=/nonexistent/token", "Agent:TokenFile")]
    [InlineData("--Agent:Drivers:x:Kind=vmware-workstation", "Agent:Drivers:x:Kind")]
    [InlineData("--Agent:Drivers:x:AllowedHostDirectories:0=relative/dir", "Agent:Drivers:x:AllowedHostDirectories:0: 'relative/dir' is not an absolute path.")]
    [InlineData("--Agent:Drivers:x:Kind=acme", "registered kinds: esx, fake, hyperv, libvirt, uml, xen.")]
    [InlineData("--Agent:Drivers:vc1:Kind=esx", "Agent:Drivers:vc1:Url: is required.")]
    [InlineData("--Agent:Drivers:pool1:Kind=xen", "Agent:Drivers:pool1:PasswordFile: is required (or Password).")]
    [InlineData("--Agent:Drivers:hv1:Kind=hyperv", "Agent:Drivers:hv1:Host: set Host or Url.")]
    [InlineData("--Agent:Listen:1=http://example.com:8470", "Agent:Listen")]
    public async Task Configuration_errors_are_one_line_naming_the_key_and_exit_78(string setting, string key) =>
        AssertRefused(await RunAsync(setting), key);

    [Fact]
    public async Task A_second_agent_on_the_same_data_directory_refuses_naming_the_holder()
    {
        await using var first = await AgentProcess.StartAsync(_data.FullName, new Dictionary<string, string>(), Ct);

        var second = await RunAsync();

        AssertRefused(second, $"pid {first.Id}");
    }

    [Fact]
    public async Task A_corrupt_journal_refuses_the_start_naming_the_file()
    {
        var path = Path.Combine(_data.FullName, "journal.db");
        await File.WriteAllTextAsync(path, new string('x', 8192), Ct);

        AssertRefused(await RunAsync(), path);
    }

    [Fact]
    public async Task A_port_in_use_refuses_the_start_before_reconciling_or_logging_listening()
    {
        await using (var journal = new OperationJournal(Path.Combine(_data.FullName, "journal.db"), JournalDurability.Normal))
        {
            var now = DateTimeOffset.UtcNow;
            await journal.BeginOrGetAsync(new StoredOperation("0123456789abcdef0123456789abcdef", null, "local", Guid.NewGuid(), OperationKinds.Start, new OperationRequest(),
                OperationState.Pending, null, null, now, now));
        }

        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var run = await AgentProcess.RunToExitAsync([$"--Agent:Listen:0=http://127.0.0.1:{port}", $"--Agent:DataDirectory={_data.FullName}"], Ct);

        AssertRefused(run, "Agent:Listen");
        await using var after = new OperationJournal(Path.Combine(_data.FullName, "journal.db"), JournalDurability.Normal);
        Assert.Equal(OperationState.Pending, Assert.Single(after.ListUnfinished()).State);
    }

    [Fact]
    public void The_default_data_directory_is_a_state_directory_never_the_build_output()
    {
        var options = new AgentOptions();
        string? None(string name) => null;

        Assert.Equal("/run/state/agent", options.ResolveDataDirectory(name => name == "STATE_DIRECTORY" ? "/run/state/agent:/other" : null, isRoot: false, "/home/u"));
        Assert.Equal("/var/lib/hypervisors-agent", options.ResolveDataDirectory(None, isRoot: true, "/root"));
        Assert.Equal("/xdg/hypervisors-agent", options.ResolveDataDirectory(name => name == "XDG_STATE_HOME" ? "/xdg" : null, isRoot: false, "/home/u"));
        Assert.Equal("/home/u/.local/state/hypervisors-agent", options.ResolveDataDirectory(None, isRoot: false, "/home/u"));
        Assert.DoesNotContain(AppContext.BaseDirectory.TrimEnd('/'), options.ResolveDataDirectory(), StringComparison.Ordinal);
    }
}
