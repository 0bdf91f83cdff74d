using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Hypervisors.Agent.Tests.Api;

public sealed class ProblemTests
{
    private static async Task<(HttpStatusCode Status, string? MediaType, AgentProblem Problem)> SendAsync(TestAgent agent, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await agent.Http.SendAsync(request, TestContext.Current.CancellationToken);
        var problem = await response.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, TestContext.Current.CancellationToken);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, problem!);
    }

    [Fact]
    public async Task Unknown_instances_and_drivers_are_404_problems_with_the_error_kind()
    {
        await using var agent = await TestAgent.StartAsync();

        var instance = await SendAsync(agent, HttpMethod.Get, $"/v1/drivers/local/instances/{Guid.NewGuid()}");
        var driver = await SendAsync(agent, HttpMethod.Get, "/v1/drivers/nope/host");

        Assert.Equal(HttpStatusCode.NotFound, instance.Status);
        Assert.Equal("application/problem+json", instance.MediaType);
        Assert.Equal(HypervisorErrorKind.NotFound, instance.Problem.Kind);
        Assert.Equal("urn:hypervisors:problem:not-found", instance.Problem.Type);
        Assert.False(instance.Problem.Retryable);
        Assert.Equal(HttpStatusCode.NotFound, driver.Status);
        Assert.Contains("nope", driver.Problem.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"name\":\"x\",\"vCpus\":1}", "memoryMiB")]
    [InlineData("{\"name\":\"x\",\"vCpus\":1,\"memoryMiB\":256,\"typo\":true}", "typo")]
    [InlineData("{not json", null)]
    public async Task Malformed_create_bodies_are_400_invalid_spec_and_journal_nothing(string body, string? mentioned)
    {
        await using var agent = await TestAgent.StartAsync();

        var result = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        Assert.Equal(HypervisorErrorKind.InvalidSpec, result.Problem.Kind);
        if (mentioned is not null)
        {
            Assert.Contains(mentioned, result.Problem.Detail, StringComparison.Ordinal);
        }

        Assert.Empty(agent.Service<Hypervisors.Agent.Journal.OperationJournal>().CountByState());
    }

    [Fact]
    public async Task A_spec_the_contract_rejects_is_400_with_the_offending_field()
    {
        await using var agent = await TestAgent.StartAsync();

        var result = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}",
            JsonContent.Create(Specs.Small("bad name with spaces"), options: AgentJson.Options));

        Assert.Equal(HttpStatusCode.BadRequest, result.Status);
        Assert.Equal(HypervisorErrorKind.InvalidSpec, result.Problem.Kind);
        Assert.NotNull(result.Problem.Field);
    }

    [Fact]
    public async Task Bodies_over_the_limit_are_refused_with_413()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:MaxRequestBodyBytes"] = "1024" });
        var metadata = Enumerable.Range(0, 40).ToDictionary(i => $"key{i}", _ => new string('x', 100));
        var request = Specs.Small("big-1") with { Metadata = metadata };

        var result = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/local/instances/{Guid.NewGuid()}",
            new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, AgentJson.Options)) { Headers = { ContentType = new("application/json") } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, result.Status);
        Assert.Equal(HypervisorErrorKind.InvalidSpec, result.Problem.Kind);
    }

    [Fact]
    public async Task Bad_query_values_are_400()
    {
        await using var agent = await TestAgent.StartAsync();
        var id = Guid.NewGuid();

        var wait = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{id}/start?wait=soon");
        var kind = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{id}/reboot?kind=gentle");
        var timeout = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/local/instances/{id}/stop?timeout=2h");

        Assert.All([wait, kind, timeout], r => Assert.Equal(HttpStatusCode.BadRequest, r.Status));
        Assert.Equal("wait", wait.Problem.Field);
        Assert.Equal("kind", kind.Problem.Field);
        Assert.Equal("timeout", timeout.Problem.Field);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_versioned_api()
    {
        await using var agent = await TestAgent.StartAsync();

        using var document = JsonDocument.Parse(await agent.Http.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken));
        var paths = document.RootElement.GetProperty("paths");

        Assert.True(paths.TryGetProperty("/v1/drivers/{driver}/instances/{id}", out var instance));
        Assert.True(instance.TryGetProperty("put", out _));
        Assert.True(instance.TryGetProperty("delete", out _));
        Assert.True(paths.TryGetProperty("/v1/drivers/{driver}/instances/{id}/stop", out _));
        Assert.True(paths.TryGetProperty("/v1/operations/{operationId}", out _));
        Assert.True(paths.TryGetProperty("/v1/events", out _));
    }

    [Fact]
    public async Task Operations_the_driver_does_not_declare_are_501_and_journal_nothing()
    {
        await using var agent = await TestAgent.StartAsync(services: services => services.AddHypervisors(h =>
            h.AddDriver("limited", _ => new LimitedDriver(new Hypervisors.Fake.FakeHypervisorDriver(new Hypervisors.Fake.FakeHypervisorOptions())))));
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("limited", id, Specs.Small("limited-1", start: true), TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var before = agent.Service<Hypervisors.Agent.Journal.OperationJournal>().CountByState().Values.Sum();

        var pause = await SendAsync(agent, HttpMethod.Post, $"/v1/drivers/limited/instances/{id}/pause");
        var kernel = await SendAsync(agent, HttpMethod.Put, $"/v1/drivers/limited/instances/{Guid.NewGuid()}",
            JsonContent.Create(Specs.Small("limited-2") with { KernelBoot = new KernelBootSpec("/boot/vmlinuz") }, options: AgentJson.Options));

        Assert.Equal(HttpStatusCode.NotImplemented, pause.Status);
        Assert.Equal(HypervisorErrorKind.NotSupported, pause.Problem.Kind);
        Assert.Equal(HttpStatusCode.NotImplemented, kernel.Status);
        Assert.Equal(before, agent.Service<Hypervisors.Agent.Journal.OperationJournal>().CountByState().Values.Sum());
    }

    private sealed class LimitedDriver(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
    {
        public override DriverCapabilities Capabilities => InnerDriver.Capabilities with { SupportsPause = false, SupportsKernelBoot = false };
    }
}
