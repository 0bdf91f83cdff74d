using System.Globalization;
using System.Text;

namespace Hypervisors.Agent.Client;

/// <summary>Builds the agent's relative request URIs, escaping every path segment and query value.</summary>
public static class AgentPaths
{
    /// <summary>A relative URI from path segments (each escaped) and optional query pairs (null values left out).</summary>
    public static Uri Build(IEnumerable<string> segments, params (string Name, string? Value)[] query)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var builder = new StringBuilder();
        foreach (var segment in segments)
        {
            builder.Append('/').Append(Uri.EscapeDataString(segment));
        }

        var separator = '?';
        foreach (var (name, value) in query)
        {
            if (value is null)
            {
                continue;
            }

            builder.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        return new Uri(builder.ToString(), UriKind.Relative);
    }

    /// <summary><c>/v1/drivers/{driver}/instances[/{id}[/...rest]]</c>.</summary>
    public static IEnumerable<string> Instance(string driver, Guid? instanceId, params string[] rest)
    {
        yield return "v1";
        yield return "drivers";
        yield return driver;
        yield return "instances";
        if (instanceId is { } id)
        {
            yield return id.ToString("D", CultureInfo.InvariantCulture);
        }

        foreach (var part in rest)
        {
            yield return part;
        }
    }

    /// <summary>Formats a wait or timeout as the API's duration syntax (whole seconds or milliseconds).</summary>
    public static string? Duration(TimeSpan? value) => value switch
    {
        null => null,
        { Milliseconds: 0 } v => ((long)v.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s",
        { } v => ((long)v.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms",
    };
}
