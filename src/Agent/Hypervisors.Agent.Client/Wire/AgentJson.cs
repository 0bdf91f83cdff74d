using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hypervisors.Agent.Client;

/// <summary>The JSON settings of the agent's wire format: camelCase names, enums as strings, nulls omitted.</summary>
public static class AgentJson
{
    /// <summary>Options shared by the agent and its clients.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Applies the wire settings to <paramref name="options"/> (used for ASP.NET Core's own options).</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.DictionaryKeyPolicy = null;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.Converters.Add(new JsonStringEnumConverter());
    }

    /// <summary>
    /// The wire settings plus the server's strictness for request bodies, at every depth: unknown fields, numbers
    /// given as strings and duplicate keys are refused. (Clients stay lenient, so a newer agent's extra fields
    /// do not break them.)
    /// </summary>
    public static void ApplyStrict(JsonSerializerOptions options)
    {
        Apply(options);
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.AllowDuplicateProperties = false;
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Apply(options);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
