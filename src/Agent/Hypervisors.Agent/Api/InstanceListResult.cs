using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Hypervisors.Agent.Api;

/// <summary>
/// Writes an instance list straight to the response with a <see cref="Utf8JsonWriter"/>: the list is the agent's
/// hottest and largest answer, and this is about twice as fast as the general serializer. The JSON is the same
/// as <c>AgentJson</c> would write (camelCase, enums as names, null native id omitted).
/// </summary>
internal sealed class InstanceListResult(ReadOnlyMemory<byte> json) : IResult
{
    private static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText Name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText PowerStateName = JsonEncodedText.Encode("powerState");
    private static readonly JsonEncodedText VCpus = JsonEncodedText.Encode("vCpus");
    private static readonly JsonEncodedText MemoryMiB = JsonEncodedText.Encode("memoryMiB");
    private static readonly JsonEncodedText CpuTime = JsonEncodedText.Encode("cpuTime");
    private static readonly JsonEncodedText NativeId = JsonEncodedText.Encode("nativeId");
    private static readonly JsonEncodedText Metadata = JsonEncodedText.Encode("metadata");
    private static readonly Dictionary<PowerState, JsonEncodedText> States =
        Enum.GetValues<PowerState>().ToDictionary(state => state, state => JsonEncodedText.Encode(state.ToString()));

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        httpContext.Response.ContentLength = json.Length;
        await httpContext.Response.Body.WriteAsync(json, httpContext.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="instances"/> as a JSON array into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<InstanceInfo> instances)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartArray();
        foreach (var instance in instances)
        {
            writer.WriteStartObject();
            writer.WriteString(Id, instance.Id);
            writer.WriteString(Name, instance.Name);
            writer.WriteString(PowerStateName, States[instance.PowerState]);
            writer.WriteNumber(VCpus, instance.VCpus);
            writer.WriteNumber(MemoryMiB, instance.MemoryMiB);
            writer.WriteString(CpuTime, instance.CpuTime.ToString("c", CultureInfo.InvariantCulture));
            if (instance.NativeId is not null)
            {
                writer.WriteString(NativeId, instance.NativeId);
            }

            writer.WriteStartObject(Metadata);
            foreach (var (key, value) in instance.Metadata)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.Flush();
    }
}
