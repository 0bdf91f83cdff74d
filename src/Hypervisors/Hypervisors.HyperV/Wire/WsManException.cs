namespace Hypervisors.HyperV.Wire;

/// <summary>What went wrong on the wire, before the driver gives it a contract meaning.</summary>
internal enum WsManFailure
{
    /// <summary>The host answered with a SOAP fault (<see cref="WsManException.NativeCode"/> is <c>w:</c>, <c>a:</c>, <c>n:</c> or <c>cim:N</c>).</summary>
    Fault,

    /// <summary>A WMI method returned an error code (<c>rv:N</c>).</summary>
    MethodFailed,

    /// <summary>A <c>Msvm_ConcreteJob</c> ended terminated, killed or in an exception (<c>rv:N</c> from its ErrorCode).</summary>
    JobFailed,

    /// <summary>A job did not finish within the job timeout (<c>job:N</c>, its last JobState).</summary>
    JobTimedOut,

    /// <summary>The host could not be reached, or the connection dropped mid-answer.</summary>
    Unreachable,

    /// <summary>The host did not answer in time.</summary>
    TimedOut,

    /// <summary>The host refused the credentials (HTTP 401).</summary>
    Unauthorized,

    /// <summary>The host answered with an HTTP error and no SOAP envelope (<c>http:N</c>).</summary>
    HttpStatus,

    /// <summary>The answer was not a well-formed WS-Management response.</summary>
    Malformed,

    /// <summary>The answer exceeded the response size limit.</summary>
    TooLarge,
}

/// <summary>
/// The one exception the WS-Man client and the WMI session throw. It says what failed on the wire and with which
/// native code; it knows nothing of the contract operation or instance, so the driver's <c>MapException</c> turns it
/// into the contract's typed errors.
/// </summary>
internal sealed class WsManException(WsManFailure failure, string nativeCode, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>What kind of failure it is.</summary>
    public WsManFailure Failure { get; } = failure;

    /// <summary>The native code: a fault subcode, <c>cim:N</c>, <c>rv:N</c>, <c>job:N</c>, <c>http:N</c> or <c>wsman:…</c>.</summary>
    public string NativeCode { get; } = nativeCode;

    /// <summary>The CIM class the failed request addressed (for faults and methods), when known.</summary>
    public string? ClassName { get; init; }

    /// <summary>The HTTP status the host answered with, for <see cref="WsManFailure.HttpStatus"/>.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>
    /// The VM's power state the driver read after Hyper-V refused a transition with an invalid-state code (32775), so
    /// the mapping can report it; null when nobody read it.
    /// </summary>
    public PowerState? ObservedState { get; set; }

    /// <summary>A malformed-response failure.</summary>
    public static WsManException Malformed(string detail, Exception? inner = null) =>
        new(WsManFailure.Malformed, "wsman:MalformedResponse", "The Hyper-V host sent a malformed WS-Management response: " + detail, inner);

    /// <summary>Whether this is a refusal with one of <paramref name="codes"/> (<c>rv:N</c>/<c>cim:N</c>/subcodes).</summary>
    public bool Is(params ReadOnlySpan<string> codes)
    {
        foreach (var code in codes)
        {
            if (string.Equals(NativeCode, code, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
