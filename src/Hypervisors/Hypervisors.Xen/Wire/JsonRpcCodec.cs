using System.Collections;
using System.Globalization;
using System.Text.Json;

namespace Hypervisors.Xen.Wire;

/// <summary>A decoded JSON-RPC request.</summary>
/// <param name="MethodName">The method.</param>
/// <param name="Parameters">The parameters in order.</param>
/// <param name="Id">The request id as raw JSON text ("1", "\"abc\""), echoed in the response.</param>
/// <param name="IsVersion2">Whether the request said <c>"jsonrpc": "2.0"</c>.</param>
internal sealed record JsonRpcCall(string MethodName, object?[] Parameters, string Id, bool IsVersion2);

/// <summary>
/// XenAPI's JSON-RPC (served at <c>/jsonrpc</c>): requests <c>{jsonrpc: "2.0", method, params, id}</c>, responses
/// <c>{jsonrpc: "2.0", result, id}</c> or <c>{jsonrpc: "2.0", error: {code, message: CODE, data: [params]}, id}</c>;
/// version 1 responses (<c>{result, error: [code, params...], id}</c>) are read too. Values map to and from the
/// model on <see cref="XenValue"/>; the document size, depth and string length are bounded by <see cref="XmlRpcLimits"/>.
/// </summary>
internal static class JsonRpcCodec
{
    /// <summary>Encodes a version 2 request.</summary>
    public static byte[] EncodeCall(string methodName, IReadOnlyList<object?> parameters, long id)
    {
        ArgumentNullException.ThrowIfNull(methodName);
        ArgumentNullException.ThrowIfNull(parameters);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc", "2.0");
            writer.WriteString("method", methodName);
            writer.WritePropertyName("params");
            writer.WriteStartArray();
            foreach (var parameter in parameters)
            {
                WriteValue(writer, parameter, 0);
            }

            writer.WriteEndArray();
            writer.WriteNumber("id", id);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Decodes a response: returns the result, or throws <see cref="XenApiFailureException"/> for an error.</summary>
    public static object? DecodeResponse(ReadOnlyMemory<byte> body, XmlRpcLimits? limits = null)
    {
        using var document = Parse(body, limits);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new XenApiProtocolException("a JSON-RPC response is not an object.");
        }

        if (root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null)
        {
            var limit = limits ?? XmlRpcLimits.Default;
            switch (error.ValueKind)
            {
                case JsonValueKind.Object:
                    var code = error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String
                        ? message.GetString()!
                        : throw new XenApiProtocolException("a JSON-RPC error has no message.");
                    var data = error.TryGetProperty("data", out var dataElement) && dataElement.ValueKind == JsonValueKind.Array
                        ? XenValue.ToStringArray(ToValue(dataElement, 0, limit))
                        : [];
                    throw new XenApiFailureException(code, data);
                case JsonValueKind.Array:
                    throw XenApiFailureException.FromDescription(ToValue(error, 0, limit));
                default:
                    throw new XenApiProtocolException("a JSON-RPC error is neither an object nor an array.");
            }
        }

        return root.TryGetProperty("result", out var result)
            ? ToValue(result, 0, limits ?? XmlRpcLimits.Default)
            : throw new XenApiProtocolException("a JSON-RPC response has neither result nor error.");
    }

    /// <summary>Decodes a request (for servers).</summary>
    public static JsonRpcCall DecodeCall(ReadOnlyMemory<byte> body, XmlRpcLimits? limits = null)
    {
        var limit = limits ?? XmlRpcLimits.Default;
        using var document = Parse(body, limits);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
        {
            throw new XenApiProtocolException("a JSON-RPC request needs a string 'method'.");
        }

        object?[] parameters = root.TryGetProperty("params", out var p)
            ? p.ValueKind == JsonValueKind.Array ? (object?[])ToValue(p, 0, limit)! : throw new XenApiProtocolException("'params' is not an array.")
            : [];
        var id = root.TryGetProperty("id", out var idElement) ? idElement.GetRawText() : "null";
        var v2 = root.TryGetProperty("jsonrpc", out var version) && version.ValueKind == JsonValueKind.String && version.GetString() == "2.0";
        return new JsonRpcCall(method.GetString()!, parameters, id, v2);
    }

    /// <summary>Encodes a success response.</summary>
    public static byte[] EncodeResult(object? result, string id, bool version2) => Encode(writer =>
    {
        if (version2)
        {
            writer.WriteString("jsonrpc", "2.0");
        }

        writer.WritePropertyName("result");
        WriteValue(writer, result, 0);
        if (!version2)
        {
            writer.WriteNull("error");
        }

        WriteId(writer, id);
    });

    /// <summary>Encodes a XenAPI failure response.</summary>
    public static byte[] EncodeError(string code, IReadOnlyList<string> parameters, string id, bool version2) => Encode(writer =>
    {
        if (version2)
        {
            writer.WriteString("jsonrpc", "2.0");
            writer.WriteStartObject("error");
            writer.WriteNumber("code", 1);
            writer.WriteString("message", code);
            writer.WriteStartArray("data");
            foreach (var parameter in parameters)
            {
                writer.WriteStringValue(parameter);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("result");
            writer.WriteStartArray("error");
            writer.WriteStringValue(code);
            foreach (var parameter in parameters)
            {
                writer.WriteStringValue(parameter);
            }

            writer.WriteEndArray();
        }

        WriteId(writer, id);
    });

    private static void WriteId(Utf8JsonWriter writer, string id)
    {
        writer.WritePropertyName("id");
        writer.WriteRawValue(IsSafeRawId(id) ? id : "null", skipInputValidation: false);
    }

    private static bool IsSafeRawId(string id)
    {
        try
        {
            using var parsed = JsonDocument.Parse(id);
            return parsed.RootElement.ValueKind is JsonValueKind.Number or JsonValueKind.String or JsonValueKind.Null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static byte[] Encode(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static JsonDocument Parse(ReadOnlyMemory<byte> body, XmlRpcLimits? limits)
    {
        var limit = limits ?? XmlRpcLimits.Default;
        if (body.Length > limit.MaxDocumentCharacters)
        {
            throw new XenApiProtocolException($"the JSON document is larger than {limit.MaxDocumentCharacters} bytes.");
        }

        try
        {
            return JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = limit.MaxDepth + 2 });
        }
        catch (JsonException ex)
        {
            throw new XenApiProtocolException("malformed JSON: " + ex.Message, ex);
        }
    }

    private static object? ToValue(JsonElement element, int depth, XmlRpcLimits limits)
    {
        if (depth > limits.MaxDepth)
        {
            throw new XenApiProtocolException($"values are nested more than {limits.MaxDepth} levels deep.");
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                var text = element.GetString()!;
                return text.Length > limits.MaxStringLength
                    ? throw new XenApiProtocolException($"a string is longer than {limits.MaxStringLength} characters.")
                    : text;
            case JsonValueKind.Number:
                return element.TryGetInt64(out var l) ? (object)l : element.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.Array:
                var items = new object?[element.GetArrayLength()];
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    items[i++] = ToValue(item, depth + 1, limits);
                }

                return items;
            case JsonValueKind.Object:
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    map[property.Name] = ToValue(property.Value, depth + 1, limits);
                }

                return map;
            default:
                throw new XenApiProtocolException($"unexpected JSON {element.ValueKind}.");
        }
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value, int depth)
    {
        if (depth > 256)
        {
            throw new XenApiProtocolException("a value is nested more than 256 levels deep.");
        }

        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case double d:
                if (double.IsFinite(d))
                {
                    writer.WriteNumberValue(d);
                }
                else
                {
                    writer.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
                }

                break;
            case DateTime t:
                writer.WriteStringValue(XenValue.FormatDateTime(t));
                break;
            case DateTimeOffset t:
                writer.WriteStringValue(XenValue.FormatDateTime(t.UtcDateTime));
                break;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                break;
            case Enum e:
                writer.WriteStringValue(e.ToString());
                break;
            case IDictionary map:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in map)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture)!);
                    WriteValue(writer, entry.Value, depth + 1);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable items:
                writer.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(writer, item, depth + 1);
                }

                writer.WriteEndArray();
                break;
            default:
                throw new XenApiProtocolException($"a {value.GetType().Name} cannot be written as a JSON value.");
        }
    }
}
