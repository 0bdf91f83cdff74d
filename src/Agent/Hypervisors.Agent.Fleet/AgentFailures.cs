using System.Globalization;
using Hypervisors.Agent.Client;

namespace Hypervisors.Agent.Fleet;

/// <summary>
/// Maps the agent's problems to oslo.messaging failures and back: the class is the error kind (<c>NotFound</c>,
/// <c>InvalidSpec</c>, ...), the module <c>hypervisors.agent</c>, and the problem's fields travel in <c>kwargs</c>.
/// An oslo.messaging caller sees a <c>RemoteError</c> whose <c>exc_type</c> is the kind.
/// </summary>
public static class AgentFailures
{
    /// <summary>The module name failures carry.</summary>
    public const string Module = "hypervisors.agent";

    /// <summary>The failure for <paramref name="problem"/>.</summary>
    public static RemoteFailure FromProblem(AgentProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var data = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["kind"] = problem.Kind.ToString(),
            ["retryable"] = problem.Retryable ? "true" : "false",
        };
        Add(data, "type", problem.Type);
        Add(data, "title", problem.Title);
        Add(data, "field", problem.Field);
        Add(data, "native_code", problem.NativeCode);
        if (problem.Status is { } status)
        {
            data["status"] = status.ToString(CultureInfo.InvariantCulture);
        }

        return new RemoteFailure(problem.Kind.ToString(), Module, problem.Detail ?? problem.Title ?? problem.Kind.ToString(), data);
    }

    /// <summary>The exception a fleet client throws for <paramref name="failure"/>.</summary>
    public static AgentApiException ToException(RemoteFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var data = failure.Data;
        var kind = data.TryGetValue("kind", out var kindText) && Enum.TryParse<HypervisorErrorKind>(kindText, out var parsed) ? parsed : HypervisorErrorKind.Unknown;
        var status = data.TryGetValue("status", out var statusText) && int.TryParse(statusText, CultureInfo.InvariantCulture, out var code) ? code : 500;
        var problem = new AgentProblem
        {
            Type = data.GetValueOrDefault("type"),
            Title = data.GetValueOrDefault("title") ?? failure.Class,
            Status = status,
            Detail = failure.Message,
            Kind = kind,
            Retryable = data.GetValueOrDefault("retryable") == "true",
            Field = data.GetValueOrDefault("field"),
            NativeCode = data.GetValueOrDefault("native_code"),
        };
        return new AgentApiException(problem, status);
    }

    private static void Add(Dictionary<string, string> data, string key, string? value)
    {
        if (value is not null)
        {
            data[key] = value;
        }
    }
}
