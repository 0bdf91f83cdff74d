using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hypervisors.Agent.Fleet;

/// <summary>
/// oslo.messaging's RPC envelope, message format 2.0: the body is a JSON object
/// <c>{"oslo.version": "2.0", "oslo.message": "&lt;the message as a JSON string&gt;"}</c>; a request message holds
/// <c>method</c>, <c>args</c>, optional <c>version</c> and <c>namespace</c>, <c>_unique_id</c>, <c>_context_*</c> keys
/// and, for a call, <c>_msg_id</c>, <c>_reply_q</c> and <c>_timeout</c>; a reply holds <c>result</c>,
/// <c>failure</c> (a JSON string naming the exception's class and module), <c>ending</c> and <c>_msg_id</c>.
/// </summary>
public static class OsloEnvelope
{
    /// <summary>The envelope version written.</summary>
    public const string Version = "2.0";

    /// <summary>The content type oslo.messaging (kombu) sends.</summary>
    public const string ContentType = "application/json";

    private const string VersionKey = "oslo.version";
    private const string MessageKey = "oslo.message";
    private const string ContextPrefix = "_context_";

    /// <summary>The body for <paramref name="message"/>.</summary>
    public static byte[] Wrap(JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var envelope = new JsonObject { [VersionKey] = Version, [MessageKey] = message.ToJsonString() };
        return JsonSerializer.SerializeToUtf8Bytes(envelope);
    }

    /// <summary>The message in <paramref name="body"/>; a body without the envelope keys is taken as a bare message, as oslo.messaging does.</summary>
    /// <exception cref="OsloEnvelopeException">Not JSON, not an object, or an envelope version this side cannot read.</exception>
    public static JsonObject Unwrap(ReadOnlyMemory<byte> body)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body.Span);
        }
        catch (JsonException exception)
        {
            throw new OsloEnvelopeException("The message body is not JSON: " + exception.Message, exception);
        }

        if (root is not JsonObject envelope)
        {
            throw new OsloEnvelopeException("The message body is not a JSON object.");
        }

        if (!envelope.ContainsKey(VersionKey) && !envelope.ContainsKey(MessageKey))
        {
            return envelope;
        }

        var version = envelope[VersionKey]?.GetValue<string>() ?? throw new OsloEnvelopeException("The envelope has no oslo.version.");
        if (!IsCompatible(version))
        {
            throw new OsloEnvelopeException($"Envelope version {version} is not compatible with {Version}.");
        }

        var inner = envelope[MessageKey]?.GetValue<string>() ?? throw new OsloEnvelopeException("The envelope has no oslo.message.");
        try
        {
            return JsonNode.Parse(inner) as JsonObject ?? throw new OsloEnvelopeException("oslo.message is not a JSON object.");
        }
        catch (JsonException exception)
        {
            throw new OsloEnvelopeException("oslo.message is not JSON: " + exception.Message, exception);
        }
    }

    /// <summary>A request message (call when <paramref name="messageId"/> is set, cast otherwise).</summary>
    public static JsonObject Request(string method, JsonObject arguments, string? messageId, string? replyQueue, TimeSpan? timeout, string? version = null,
        IReadOnlyDictionary<string, string>? context = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(arguments);
        var message = new JsonObject { ["method"] = method, ["args"] = arguments };
        if (version is not null)
        {
            message["version"] = version;
        }

        if (messageId is not null)
        {
            message["_msg_id"] = messageId;
            message["_reply_q"] = replyQueue;
            message["_timeout"] = timeout is { } t ? (int)Math.Ceiling(t.TotalSeconds) : null;
        }

        message["_unique_id"] = Guid.NewGuid().ToString("N");
        foreach (var (key, value) in context ?? new Dictionary<string, string>())
        {
            message[ContextPrefix + key] = value;
        }

        return message;
    }

    /// <summary>Reads a request message.</summary>
    /// <exception cref="OsloEnvelopeException">No method, or args that are not an object.</exception>
    public static RpcRequest ReadRequest(JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var method = message["method"] is JsonValue m && m.TryGetValue<string>(out var name) && name.Length > 0
            ? name
            : throw new OsloEnvelopeException("The message names no method.");
        var arguments = message["args"] switch
        {
            null => [],
            JsonObject args => args,
            _ => throw new OsloEnvelopeException("The message's args are not an object."),
        };
        var context = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (key, value) in message)
        {
            if (key.StartsWith(ContextPrefix, StringComparison.Ordinal))
            {
                context[key[ContextPrefix.Length..]] = value;
            }
        }

        return new RpcRequest(method, arguments, Text(message, "_msg_id"), Text(message, "_reply_q"), Text(message, "_unique_id"), Text(message, "version"),
            Text(message, "namespace"), message["_timeout"] is JsonValue timeout && timeout.TryGetValue<double>(out var seconds) ? TimeSpan.FromSeconds(seconds) : null, context);
    }

    /// <summary>A reply message: the result, or the failure, to the call <paramref name="messageId"/>.</summary>
    public static JsonObject Reply(string messageId, JsonNode? result, RemoteFailure? failure) => new()
    {
        ["result"] = failure is null ? result : null,
        ["failure"] = failure?.ToJsonString(),
        ["ending"] = true,
        ["_msg_id"] = messageId,
        ["_unique_id"] = Guid.NewGuid().ToString("N"),
    };

    /// <summary>Reads a reply message.</summary>
    public static RpcReply ReadReply(JsonObject message)
    {
        ArgumentNullException.ThrowIfNull(message);
        RemoteFailure? failure = null;
        if (message["failure"] is JsonValue value && value.TryGetValue<string>(out var failureJson))
        {
            failure = RemoteFailure.Parse(failureJson);
        }

        var ending = message["ending"] is JsonValue e && e.TryGetValue<bool>(out var end) && end;
        return new RpcReply(Text(message, "_msg_id"), message["result"]?.DeepClone(), failure, ending);
    }

    private static string? Text(JsonObject message, string key) =>
        message[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static bool IsCompatible(string version)
    {
        // oslo.messaging's rule: same major version, and a minor version this side knows.
        var parts = version.Split('.');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) && major == 2
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor) && minor == 0;
    }
}

/// <summary>An RPC request as the envelope carries it.</summary>
/// <param name="Method">The method name.</param>
/// <param name="Arguments">The keyword arguments.</param>
/// <param name="MessageId">The call's id (<c>_msg_id</c>); null for a cast.</param>
/// <param name="ReplyQueue">Where oslo.messaging wants the reply (<c>_reply_q</c>).</param>
/// <param name="UniqueId">The send's id (<c>_unique_id</c>), the same on every redelivery.</param>
/// <param name="Version">The API version the caller asked for.</param>
/// <param name="Namespace">The caller's target namespace.</param>
/// <param name="Timeout">How long the caller waits (<c>_timeout</c>), when it says.</param>
/// <param name="Context">The request context (<c>_context_*</c> keys).</param>
public sealed record RpcRequest(string Method, JsonObject Arguments, string? MessageId, string? ReplyQueue, string? UniqueId, string? Version, string? Namespace, TimeSpan? Timeout,
    IReadOnlyDictionary<string, JsonNode?> Context)
{
    /// <summary>Whether the caller waits for a reply.</summary>
    public bool IsCall => MessageId is not null;
}

/// <summary>A reply: the result, or the failure.</summary>
/// <param name="MessageId">The call it answers.</param>
/// <param name="Result">The result.</param>
/// <param name="Failure">The failure, when the call failed.</param>
/// <param name="Ending">Whether this is the last message for the call (false for oslo.messaging's call-monitor heartbeats).</param>
public sealed record RpcReply(string? MessageId, JsonNode? Result, RemoteFailure? Failure, bool Ending);

/// <summary>
/// A failure as oslo.messaging serializes a remote exception: the class and module names, the message, the
/// traceback lines and the constructor arguments.
/// </summary>
/// <param name="Class">The exception's class name (<c>InstanceNotFound</c>, ...).</param>
/// <param name="Module">Its module (<c>hypervisors.agent</c>).</param>
/// <param name="Message">What happened.</param>
/// <param name="Data">Typed details (kind, retryable, field); kept in oslo's <c>kwargs</c>.</param>
public sealed record RemoteFailure(string Class, string Module, string Message, IReadOnlyDictionary<string, string> Data)
{
    /// <summary>The JSON string oslo.messaging puts in a reply's <c>failure</c>.</summary>
    public string ToJsonString()
    {
        var kwargs = new JsonObject();
        foreach (var (key, value) in Data)
        {
            kwargs[key] = value;
        }

        return new JsonObject
        {
            ["class"] = Class,
            ["module"] = Module,
            ["message"] = Message,
            ["tb"] = new JsonArray(),
            ["args"] = new JsonArray(Message),
            ["kwargs"] = kwargs,
        }.ToJsonString();
    }

    /// <summary>Reads a failure string.</summary>
    public static RemoteFailure Parse(string json)
    {
        JsonObject failure;
        try
        {
            failure = JsonNode.Parse(json) as JsonObject ?? throw new OsloEnvelopeException("The failure is not a JSON object.");
        }
        catch (JsonException exception)
        {
            throw new OsloEnvelopeException("The failure is not JSON: " + exception.Message, exception);
        }

        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (failure["kwargs"] is JsonObject kwargs)
        {
            foreach (var (key, value) in kwargs)
            {
                data[key] = value is JsonValue v && v.TryGetValue<string>(out var text) ? text : value?.ToJsonString() ?? string.Empty;
            }
        }

        return new RemoteFailure(Value(failure, "class"), Value(failure, "module"), Value(failure, "message"), data);
    }

    private static string Value(JsonObject failure, string key) =>
        failure[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : string.Empty;
}

/// <summary>A message that is not a readable oslo.messaging envelope.</summary>
public sealed class OsloEnvelopeException : Exception
{
    public OsloEnvelopeException()
    {
    }

    public OsloEnvelopeException(string message)
        : base(message)
    {
    }

    public OsloEnvelopeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
