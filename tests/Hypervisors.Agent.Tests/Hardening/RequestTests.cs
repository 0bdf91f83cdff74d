using System.Net;
using System.Net.Http.Json;
using System.Text;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Fake;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 items 2-4: nothing runs for a refused request, strict JSON, and a problem for every error.</summary>
public sealed class RequestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(HttpStatusCode Status, string? MediaType, AgentProblem? Problem)> SendAsync(TestAgent agent, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await agent.Http.SendAsync(request, Ct);
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var problem = mediaType == "application/problem+json" ? await response.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, Ct) : null;
        return (response.StatusCode, mediaType, problem);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_bad_wait_refuses_the_request_before_it_creates_stops_or_deletes_anything()
    {
        await using var agent = await TestAgent.StartAsync();
        var created = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", created, Specs.Small("keep", start: true), TimeSpan.FromSeconds(30), Ct);
        var before = agent.Service<OperationJournal>().CountByState().Values.Sum();

        var put = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}?wait=abc", JsonContent.Create(Specs.Small("never"), options: AgentJson.Options));
        var stop = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{created}/stop?timeout=0&wait=bogus");
        var delete = await SendAsync(agent, HttpMethod.Delete, $"/v1/drivers/local/instances/{created}?wait=5x");

        Assert.All([put, stop, delete], r => Assert.Equal((HttpStatusCode.BadRequest, "wait"), (r.Status, r.Problem?.Field)));
        var instances = await agent.Client.ListInstancesAsync("local", Ct);
        Assert.Equal(PowerState.Running, Assert.Single(instances).PowerState);
        Assert.Equal(before, agent.Service<OperationJournal>().CountByState().Values.Sum());
    }

    [Fact]
    public async Task Concurrent_identical_creates_all_wait_for_the_one_operation()
    {
        await using var agent = await TestAgent.StartAsync();
        agent.Driver().GetService<FakeHypervisorDriver>()!.Faults.SetLatency(InstanceOperation.Create, TimeSpan.FromMilliseconds(500));
        var id = Guid.NewGuid();

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            agent.Client.CreateInstanceAsync("local", id, Specs.Small("same"), TimeSpan.FromSeconds(10), Ct)));
        var repeat = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("same"), TimeSpan.FromSeconds(10), Ct);

        Assert.All(answers, answer => Assert.Equal(OperationState.Succeeded, answer.State));
        Assert.Single(answers.Select(answer => answer.Id).Distinct());
        Assert.Equal((answers[0].Id, OperationState.Succeeded), (repeat.Id, repeat.State));
    }

    [Fact]
    public async Task A_repeated_action_with_its_key_waits_for_the_running_operation()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("keyed"), TimeSpan.FromSeconds(30), Ct);
        agent.Driver().GetService<FakeHypervisorDriver>()!.Faults.SetLatency(InstanceOperation.Start, TimeSpan.FromMilliseconds(500));

        var first = agent.Client.RunActionAsync("local", id, "start", idempotencyKey: "start-1", cancellationToken: Ct);
        var repeats = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            agent.Client.RunActionAsync("local", id, "start", TimeSpan.FromSeconds(10), idempotencyKey: "start-1", cancellationToken: Ct)));

        var original = await first;
        Assert.All(repeats, repeat => Assert.Equal((original.Id, OperationState.Succeeded), (repeat.Id, repeat.State)));
    }

    [Theory]
    [InlineData("""{"name":"x","vCpus":1,"memoryMiB":256,"disks":[{"sizeGiB":1,"typo":true}]}""", "disks[0].typo")]
    [InlineData("""{"name":"x","vCpus":1,"memoryMiB":256,"networkInterfaces":[{"network":"n","extra":1}]}""", "networkInterfaces[0].extra")]
    [InlineData("""{"name":"x","vCpus":"2","memoryMiB":256}""", "vCpus")]
    [InlineData("""{"name":"x","vCpus":1,"vCpus":64,"memoryMiB":256}""", "vCpus")]
    [InlineData("""{"name":"x","vCpus":1,"memoryMiB":256,"kernelBoot":{"kernelPath":"/k","cmdline":"x"}}""", "kernelBoot.cmdline")]
    public async Task Bodies_are_strict_at_every_depth(string body, string field)
    {
        await using var agent = await TestAgent.StartAsync();

        var result = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}", Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        Assert.Equal(HypervisorErrorKind.InvalidSpec, result.Problem!.Kind);
        Assert.Equal(field, result.Problem.Field);
        Assert.Empty(agent.Service<OperationJournal>().CountByState());
    }

    [Fact]
    public async Task Attach_bodies_are_strict_too_and_problems_name_wire_fields()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("strict"), TimeSpan.FromSeconds(30), Ct);

        var volume = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{id}/volumes", Json("""{"volumeId":"v","source":"vol","readOnly":"yes"}"""));
        var nic = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{id}/interfaces", Json("""{"network":"n","mtu":9000}"""));
        var mac = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{id}/interfaces", Json("""{"network":"n","macAddress":"zz"}"""));
        var vcpus = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}", Json("""{"name":"x","vCpus":0,"memoryMiB":256}"""));
        var disk = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}", Json("""{"name":"x","vCpus":1,"memoryMiB":256,"disks":[{"sizeGiB":0}]}"""));

        Assert.Equal((HttpStatusCode.BadRequest, "readOnly"), (volume.Status, volume.Problem!.Field));
        Assert.Equal((HttpStatusCode.BadRequest, "mtu"), (nic.Status, nic.Problem!.Field));
        Assert.Equal((HttpStatusCode.BadRequest, "macAddress"), (mac.Status, mac.Problem!.Field));
        Assert.Equal("vCpus", vcpus.Problem!.Field);
        Assert.StartsWith("vCpus: ", vcpus.Problem.Detail, StringComparison.Ordinal);
        Assert.Equal("disks[0].sizeGiB", disk.Problem!.Field);
    }

    [Fact]
    public async Task Every_error_status_is_answered_with_a_problem()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:MaxRequestBodyBytes"] = "2048" });

        var badId = await SendAsync(agent, HttpMethod.Get, "/v1/drivers/local/instances/not-a-guid");
        var badIdPut = await SendAsync(agent, HttpMethod.Put, "/v1/drivers/local/instances/not-a-guid", JsonContent.Create(Specs.Small("x"), options: AgentJson.Options));
        var method = await SendAsync(agent, HttpMethod.Patch, $"/v1/drivers/local/instances/{Guid.NewGuid()}");
        var route = await SendAsync(agent, HttpMethod.Get, "/v1/nothing/here");
        var mediaType = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}", new StringContent("{}", Encoding.UTF8, "text/plain"));
        var tooLarge = await SendOversizedChunkedAsync(agent, $"/v1/drivers/local/instances/{Guid.NewGuid()}", 64 * 1024);

        Assert.Equal((HttpStatusCode.BadRequest, "id"), (badId.Status, badId.Problem?.Field));
        Assert.Equal((HttpStatusCode.BadRequest, "id"), (badIdPut.Status, badIdPut.Problem?.Field));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, method.Status);
        Assert.Equal(HttpStatusCode.NotFound, route.Status);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, mediaType.Status);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.Status);
        Assert.All([badId, badIdPut, method, route, mediaType, tooLarge], r =>
        {
            Assert.Equal("application/problem+json", r.MediaType);
            Assert.StartsWith("urn:hypervisors:problem:", r.Problem!.Type, StringComparison.Ordinal);
            Assert.Equal((int)r.Status, r.Problem.Status);
        });
        Assert.Empty(agent.Service<OperationJournal>().CountByState());
    }

    [Fact]
    public async Task The_401_problem_has_its_own_type()
    {
        var tokenFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(tokenFile, "a-token-of-enough-length-123", Ct);
            await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:TokenFile"] = tokenFile });

            var result = await SendAsync(agent, HttpMethod.Get, "/v1/drivers");

            Assert.Equal(HttpStatusCode.Unauthorized, result.Status);
            Assert.Equal("urn:hypervisors:problem:unauthorized", result.Problem!.Type);
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    [Fact]
    public async Task A_reused_idempotency_key_does_not_reveal_the_other_request()
    {
        await using var agent = await TestAgent.StartAsync();
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", first, Specs.Small("first"), TimeSpan.FromSeconds(30), Ct);
        await agent.Client.CreateInstanceAsync("local", second, Specs.Small("second"), TimeSpan.FromSeconds(30), Ct);
        var used = await agent.Client.RunActionAsync("local", first, "start", TimeSpan.FromSeconds(30), idempotencyKey: "shared", cancellationToken: Ct);

        var conflict = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.RunActionAsync("local", second, "start", idempotencyKey: "shared", cancellationToken: Ct));
        var createConflict = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.CreateInstanceAsync("local", first, Specs.Small("other"), cancellationToken: Ct));

        Assert.Equal(409, conflict.StatusCode);
        Assert.DoesNotContain(used.Id, conflict.Problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(first.ToString(), conflict.Problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(used.Id, createConflict.Problem.Detail, StringComparison.Ordinal);
    }

    /// <summary>A body of <paramref name="size"/> bytes sent chunked (no Content-Length).</summary>
    /// <summary>
    /// A chunked PUT larger than the limit, over a plain socket: the agent answers 413 and closes the connection
    /// while the body is still coming, which HttpClient reports as a broken pipe instead of the answer. The body is
    /// written beside the read, and a write refused by the closed connection is expected.
    /// </summary>
    private static async Task<(HttpStatusCode Status, string? MediaType, AgentProblem? Problem)> SendOversizedChunkedAsync(TestAgent agent, string path, int size)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(agent.BaseAddress.Host, agent.BaseAddress.Port, Ct);
        var stream = client.GetStream();
        var writer = Task.Run(async () =>
        {
            try
            {
                var head = new StringBuilder()
                    .Append("PUT ").Append(path).Append(" HTTP/1.1\r\n")
                    .Append("Host: ").Append(agent.BaseAddress.Authority).Append("\r\n")
                    .Append("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), Ct);
                var chunk = Encoding.ASCII.GetBytes("400\r\n" + new string('a', 1024) + "\r\n");
                for (var written = 0; written < size; written += 1024)
                {
                    await stream.WriteAsync(chunk, Ct);
                }

                await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), Ct);
            }
            catch (IOException)
            {
                // The agent closed the connection after its answer.
            }
        }, Ct);

        var received = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, Ct)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException) when (received.Length > 0)
        {
            // A reset after the answer arrived.
        }

        await writer;
        var text = Encoding.UTF8.GetString(received.ToArray());
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(headerEnd > 0, $"no HTTP answer: '{text}'");
        var lines = text[..headerEnd].Split("\r\n");
        var status = (HttpStatusCode)int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var mediaType = lines.Skip(1).Select(line => line.Split(':', 2))
            .Where(pair => pair.Length == 2 && pair[0].Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            .Select(pair => pair[1].Split(';')[0].Trim()).FirstOrDefault();
        var body = text[(headerEnd + 4)..];
        var json = body.IndexOf('{', StringComparison.Ordinal) is var open and >= 0 ? body[open..(body.LastIndexOf('}') + 1)] : null;
        var problem = json is null ? null : System.Text.Json.JsonSerializer.Deserialize<AgentProblem>(json, AgentJson.Options);
        return (status, mediaType, problem);
    }
}
