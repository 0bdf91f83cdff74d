using System.Net;
using System.Net.Http.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 item 6: a journal that cannot be trusted turns readiness red and requests into 503 problems.</summary>
public sealed class JournalHealthTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HttpStatusCode> WaitForReadinessAsync(TestAgent agent, HttpStatusCode wanted)
    {
        var status = HttpStatusCode.OK;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var response = await agent.Http.GetAsync("/healthz/ready", Ct);
            status = response.StatusCode;
            if (status == wanted)
            {
                break;
            }

            await Task.Delay(100, Ct);
        }

        return status;
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("replaced")]
    public async Task A_journal_deleted_or_replaced_while_running_stops_the_agent_taking_work(string what)
    {
        await using var agent = await TestAgent.StartAsync();
        await agent.Client.CreateInstanceAsync("local", Guid.NewGuid(), Specs.Small("before"), TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(HttpStatusCode.OK, await WaitForReadinessAsync(agent, HttpStatusCode.OK));
        var path = Path.Combine(agent.DataDirectory, "journal.db");
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        if (what == "replaced")
        {
            using var other = new SqliteConnection($"Data Source={path};Pooling=False");
            other.Open();
            using var command = other.CreateCommand();
            command.CommandText = "CREATE TABLE journal_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO journal_meta VALUES('identity', 'someone-else');";
            command.ExecuteNonQuery();
        }

        var readiness = await WaitForReadinessAsync(agent, HttpStatusCode.ServiceUnavailable);
        var id = Guid.NewGuid();
        using var put = await agent.Http.PutAsJsonAsync($"/v1/drivers/local/instances/{id}", Specs.Small("after"), AgentJson.Options, Ct);
        var problem = await put.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, put.StatusCode);
        Assert.Equal((HypervisorErrorKind.Unavailable, true), (problem!.Kind, problem.Retryable));
        Assert.Contains("journal", problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(await agent.Driver().ListInstancesAsync(Ct), instance => instance.Id == id);
    }
}
