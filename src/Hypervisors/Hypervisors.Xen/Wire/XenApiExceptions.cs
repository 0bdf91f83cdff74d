using System.Globalization;

namespace Hypervisors.Xen.Wire;

/// <summary>
/// The bytes on the wire were not a valid XML-RPC or JSON-RPC message (truncated, a DTD, too deep, too large, a
/// wrong type). Raised by the codecs and the transports; never retried. The driver maps it in its <c>MapException</c>.
/// </summary>
internal sealed class XenApiProtocolException(string message, Exception? innerException = null)
    : Exception("XenAPI protocol error: " + message, innerException)
{
}

/// <summary>
/// A XenAPI call answered <c>{Status: Failure, ErrorDescription: [code, params...]}</c> (or a JSON-RPC error).
/// The driver turns it into the contract's typed errors through <c>XenErrorMap</c>, in its <c>MapException</c>.
/// </summary>
internal sealed class XenApiFailureException : Exception
{
    /// <summary>Creates the failure from its error description.</summary>
    public XenApiFailureException(string code, IReadOnlyList<string> parameters)
        : base(Describe(code, parameters))
    {
        Code = code;
        Parameters = parameters;
    }

    /// <summary>The XenAPI error code ("VM_BAD_POWER_STATE", "HANDLE_INVALID", ...).</summary>
    public string Code { get; }

    /// <summary>The error's parameters, in XenAPI's order.</summary>
    public IReadOnlyList<string> Parameters { get; }

    /// <summary>Builds the failure from an <c>ErrorDescription</c> array as decoded off the wire.</summary>
    public static XenApiFailureException FromDescription(object? description)
    {
        if (description is not object?[] { Length: > 0 } items)
        {
            throw new XenApiProtocolException("a Failure envelope has no ErrorDescription array.");
        }

        var texts = new string[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            texts[i] = XenValue.ToText(items[i]);
        }

        return new XenApiFailureException(texts[0], texts[1..]);
    }

    private static string Describe(string code, IReadOnlyList<string> parameters) =>
        parameters.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"XenAPI failure {code}.")
            : string.Create(CultureInfo.InvariantCulture, $"XenAPI failure {code} [{string.Join(", ", parameters)}].");
}

/// <summary>
/// The HTTP exchange with the XenAPI server failed: no connection, a broken connection, an HTTP error status, or no
/// answer within the request timeout. The driver maps it (unavailable, or a timeout) in its <c>MapException</c>.
/// </summary>
internal sealed class XenApiTransportException(string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>The HTTP status the server answered with, when it answered.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>Whether the call got no answer in time (rather than failing outright).</summary>
    public bool TimedOut { get; init; }
}
