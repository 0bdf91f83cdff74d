using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Hosting;

/// <summary>The agent process stops cleanly on SIGTERM (systemd, containers) and SIGINT (Ctrl+C) while serving.</summary>
public sealed class AgentSignalTests
{
    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task The_agent_exits_with_code_0_within_5_s_of_a_signal(string signal)
    {
        var ct = TestContext.Current.CancellationToken;
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-signal-").FullName;
        try
        {
            await using var agent = await AgentProcess.StartAsync(dataDirectory, new Dictionary<string, string>(), ct);

            // Serving, with its background services (journal, event pump, power-state sync) running.
            using (var http = new HttpClient { BaseAddress = agent.BaseAddress })
            {
                Assert.NotEmpty(await new AgentClient(http).GetDriversAsync(ct));
            }

            var (elapsed, exitCode) = await agent.SignalAndWaitAsync(signal);
            Assert.True(exitCode == 0, $"The agent exited with code {exitCode} after SIG{signal} ({elapsed.TotalMilliseconds:F0} ms):\n{agent.Output}");
            Assert.Contains("Application is shutting down", agent.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}
