using System.Collections.Frozen;
using System.Globalization;

namespace Hypervisors.HyperV.Mapping;

/// <summary>
/// The one table from Hyper-V's native error codes to the contract's error kinds: WS-Management fault subcodes
/// (<c>w:</c>, <c>a:</c>, <c>n:</c>), the CIM status codes of <c>MSFT_WmiError</c> (<c>cim:N</c>), and the
/// return values of WMI methods and the error codes of failed <c>Msvm_ConcreteJob</c>s (<c>rv:N</c>).
/// </summary>
public static class HyperVErrorTable
{
    private static readonly FrozenDictionary<string, (HypervisorErrorKind Kind, string Meaning)> Table =
        new Dictionary<string, (HypervisorErrorKind, string)>(StringComparer.Ordinal)
        {
            // WS-Management (DSP0226) fault subcodes.
            ["w:AccessDenied"] = (HypervisorErrorKind.AuthenticationFailed, "access denied"),
            ["w:InvalidSelectors"] = (HypervisorErrorKind.NotFound, "no instance has these selectors"),
            ["a:DestinationUnreachable"] = (HypervisorErrorKind.NotFound, "the resource does not exist"),
            ["n:InvalidEnumerationContext"] = (HypervisorErrorKind.Unavailable, "the enumeration context is no longer valid"),
            ["w:TimedOut"] = (HypervisorErrorKind.Timeout, "the operation timed out on the server"),
            ["w:QuotaLimit"] = (HypervisorErrorKind.Unavailable, "the server's quota of operations is exhausted"),
            ["w:EncodingLimit"] = (HypervisorErrorKind.InvalidSpec, "the message exceeds an encoding limit"),
            ["w:InvalidParameter"] = (HypervisorErrorKind.InvalidSpec, "a parameter is invalid"),
            ["w:SchemaValidationError"] = (HypervisorErrorKind.InvalidSpec, "the message is not valid"),
            ["w:CannotProcessFilter"] = (HypervisorErrorKind.InvalidSpec, "the filter cannot be processed"),
            ["a:ActionNotSupported"] = (HypervisorErrorKind.NotSupported, "the action is not supported"),
            ["w:UnsupportedFeature"] = (HypervisorErrorKind.NotSupported, "the feature is not supported"),
            ["w:InternalError"] = (HypervisorErrorKind.Unknown, "internal error"),
            ["a:EndpointUnavailable"] = (HypervisorErrorKind.Unavailable, "the endpoint is unavailable"),

            // CIM status codes (DSP0200) carried by MSFT_WmiError.CIMStatusCode.
            ["cim:1"] = (HypervisorErrorKind.Unknown, "CIM_ERR_FAILED"),
            ["cim:2"] = (HypervisorErrorKind.AuthenticationFailed, "CIM_ERR_ACCESS_DENIED"),
            ["cim:3"] = (HypervisorErrorKind.NotSupported, "CIM_ERR_INVALID_NAMESPACE"),
            ["cim:4"] = (HypervisorErrorKind.InvalidSpec, "CIM_ERR_INVALID_PARAMETER"),
            ["cim:5"] = (HypervisorErrorKind.NotSupported, "CIM_ERR_INVALID_CLASS"),
            ["cim:6"] = (HypervisorErrorKind.NotFound, "CIM_ERR_NOT_FOUND"),
            ["cim:7"] = (HypervisorErrorKind.NotSupported, "CIM_ERR_NOT_SUPPORTED"),
            ["cim:12"] = (HypervisorErrorKind.InvalidSpec, "CIM_ERR_INVALID_PROPERTY"),
            ["cim:15"] = (HypervisorErrorKind.InvalidSpec, "CIM_ERR_INVALID_QUERY"),
            ["cim:17"] = (HypervisorErrorKind.NotSupported, "CIM_ERR_METHOD_NOT_FOUND"),

            // Generic CIM method return values.
            ["rv:1"] = (HypervisorErrorKind.NotSupported, "Not Supported"),
            ["rv:2"] = (HypervisorErrorKind.Unknown, "Unknown or Unspecified Error"),
            ["rv:3"] = (HypervisorErrorKind.Timeout, "Cannot complete within Timeout Period"),
            ["rv:4"] = (HypervisorErrorKind.Unknown, "Failed"),
            ["rv:5"] = (HypervisorErrorKind.InvalidSpec, "Invalid Parameter"),
            ["rv:6"] = (HypervisorErrorKind.Unavailable, "In Use"),
            ["rv:4097"] = (HypervisorErrorKind.InvalidPowerState, "Invalid State Transition"),
            ["rv:4098"] = (HypervisorErrorKind.NotSupported, "Use of Timeout Parameter Not Supported"),
            ["rv:4099"] = (HypervisorErrorKind.Unavailable, "Busy"),

            // Hyper-V (Msvm_*) method return values and job error codes.
            ["rv:32768"] = (HypervisorErrorKind.Unknown, "Failed"),
            ["rv:32769"] = (HypervisorErrorKind.AuthenticationFailed, "Access Denied"),
            ["rv:32770"] = (HypervisorErrorKind.NotSupported, "Not Supported"),
            ["rv:32771"] = (HypervisorErrorKind.Unknown, "Status is unknown"),
            ["rv:32772"] = (HypervisorErrorKind.Timeout, "Timeout"),
            ["rv:32773"] = (HypervisorErrorKind.InvalidSpec, "Invalid parameter"),
            ["rv:32774"] = (HypervisorErrorKind.Unavailable, "System is in use"),
            ["rv:32775"] = (HypervisorErrorKind.InvalidPowerState, "Invalid state for this operation"),
            ["rv:32776"] = (HypervisorErrorKind.InvalidSpec, "Incorrect data type"),
            ["rv:32777"] = (HypervisorErrorKind.Unavailable, "System is not available"),
            ["rv:32778"] = (HypervisorErrorKind.InsufficientResources, "Out of memory"),
            ["rv:32779"] = (HypervisorErrorKind.NotFound, "File not found"),
            ["rv:32780"] = (HypervisorErrorKind.Unavailable, "The system is not ready"),
            ["rv:32781"] = (HypervisorErrorKind.InvalidPowerState, "The machine is locked and cannot be shut down without the force option"),
            ["rv:32782"] = (HypervisorErrorKind.InvalidPowerState, "A system shutdown is in progress"),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The kind and meaning of <paramref name="nativeCode"/>, or <see cref="HypervisorErrorKind.Unknown"/>.</summary>
    public static (HypervisorErrorKind Kind, string Meaning) Lookup(string nativeCode) =>
        Table.TryGetValue(nativeCode, out var entry) ? entry : (HypervisorErrorKind.Unknown, "unrecognized error " + nativeCode);

    /// <summary>The native code of a WMI method return value or job error code.</summary>
    public static string ReturnValueCode(uint returnValue) => "rv:" + returnValue.ToString(CultureInfo.InvariantCulture);

    /// <summary>The typed error for <paramref name="nativeCode"/>, using the contract's own subclasses where one fits.</summary>
    public static HypervisorException Create(string nativeCode, string message, Exception? innerException = null)
    {
        var (kind, meaning) = Lookup(nativeCode);
        var text = $"{message} ({nativeCode}: {meaning})";
        return kind switch
        {
            HypervisorErrorKind.Unavailable => new HypervisorUnavailableException(text, innerException) { NativeCode = nativeCode },
            HypervisorErrorKind.Timeout => new HypervisorTimeoutException(text, innerException) { NativeCode = nativeCode },
            HypervisorErrorKind.AuthenticationFailed => new HypervisorAuthenticationException(text, innerException) { NativeCode = nativeCode },
            HypervisorErrorKind.InsufficientResources => new InsufficientResourcesException(text) { NativeCode = nativeCode },
            _ => new HypervisorException(kind, text, innerException) { NativeCode = nativeCode },
        };
    }
}
