using System.Reflection;
using System.Text.Json;
using Hypervisors.Agent.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 item 11: the OpenAPI document matches the routes that run.</summary>
public sealed class OpenApiTests
{
    [Fact]
    public async Task Every_route_is_documented_with_its_own_parameters_202_for_operations_and_its_problems()
    {
        await using var agent = await TestAgent.StartAsync();
        using var document = JsonDocument.Parse(await agent.Http.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken));
        var paths = document.RootElement.GetProperty("paths");
        var routes = agent.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText?.StartsWith("/v1", StringComparison.Ordinal) == true)
            .ToList();

        Assert.True(routes.Count >= 20, $"only {routes.Count} routes found");
        foreach (var route in routes)
        {
            var path = "/" + route.RoutePattern.RawText!.Trim('/');
            foreach (var method in route.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods)
            {
                var where = $"{method} {path}";
                Assert.True(paths.TryGetProperty(path, out var item) || paths.TryGetProperty(path + "/", out item), $"{where} is not documented");
                Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"{where} is not documented");
                var responses = operation.GetProperty("responses").EnumerateObject().ToDictionary(r => r.Name, r => r.Value);

                if (method is "PUT" or "POST" or "DELETE")
                {
                    Assert.True(responses.ContainsKey("202"), $"{where} does not document 202");
                    Assert.False(responses.ContainsKey("200"), $"{where} documents 200");
                }

                var problems = responses.Where(r => int.Parse(r.Key, System.Globalization.CultureInfo.InvariantCulture) >= 400).ToList();
                Assert.True(problems.Count >= 3, $"{where} documents no error responses");
                Assert.All(problems, problem => Assert.True(
                    problem.Value.TryGetProperty("content", out var content) && content.TryGetProperty("application/problem+json", out _),
                    $"{where} {problem.Key} is not a problem"));

                var documented = operation.TryGetProperty("parameters", out var parameters)
                    ? parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()!).ToHashSet()
                    : [];
                Assert.Equal(QueryParameters(route).Order(), documented.Order());
            }
        }
    }

    [Fact]
    public async Task Power_actions_list_only_their_own_parameters()
    {
        await using var agent = await TestAgent.StartAsync();
        using var document = JsonDocument.Parse(await agent.Http.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken));
        var paths = document.RootElement.GetProperty("paths");

        HashSet<string> Query(string action) => paths.GetProperty($"/v1/drivers/{{driver}}/instances/{{id}}/{action}").GetProperty("post").GetProperty("parameters")
            .EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query").Select(p => p.GetProperty("name").GetString()!).ToHashSet();

        Assert.Equal(["wait"], Query("start"));
        Assert.Equal(["timeout", "wait"], Query("stop").Order());
        Assert.Equal(["kind", "wait"], Query("reboot").Order());
    }

    /// <summary>The query parameters the route's handler takes: strings and numbers not in the route or a header.</summary>
    private static IEnumerable<string> QueryParameters(RouteEndpoint route)
    {
        var handler = route.Metadata.GetMetadata<MethodInfo>()!;
        var routeNames = route.RoutePattern.Parameters.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return handler.GetParameters()
            .Where(p => (Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType) is var type && (type == typeof(string) || type == typeof(long) || type == typeof(int)))
            .Where(p => !routeNames.Contains(p.Name!) && p.GetCustomAttribute<FromHeaderAttribute>() is null)
            .Select(p => p.Name!);
    }
}
