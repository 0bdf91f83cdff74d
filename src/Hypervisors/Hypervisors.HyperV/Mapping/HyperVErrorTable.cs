using System.Collections.Frozen;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV.Mapping;

/// <summary>
/// The one table from Hyper-V's native error codes to the contract's error kinds: WS-Management fault subcodes
/// (<c>w:</c>, <c>a:</c>, <c>n:</c>), the CIM status codes of <c>MSFT_WmiError</c> (<c>cim:N</c>), and the
/// return values of WMI methods and the error codes of failed <c>Msvm_ConcreteJob</c>s (<c>rv:N</c>).
/// </summary>
internal static class HyperVErrorTable
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

    /// <summary>Whether the wire failure's native code means <paramref name="kind"/> (for the driver's own recovery decisions).</summary>
    public static bool Means(WsManException exception, HypervisorErrorKind kind) =>
        exception.Failure is WsManFailure.Fault or WsManFailure.MethodFailed or WsManFailure.JobFailed && Lookup(exception.NativeCode).Kind == kind;

    /// <summary>
    /// The contract error for a wire failure in <paramref name="context"/>: the driver's <c>MapException</c> calls this and
    /// nothing else maps. A not-found answer about the VM of an instance operation is
    /// <see cref="InstanceNotFoundException"/> with the id; an invalid-state refusal whose state the driver read back is
    /// <see cref="InvalidPowerStateException"/>; the rest go by the table. Exceptions that are not wire failures pass.
    /// </summary>
    public static Exception ToHypervisorException(Exception exception, OperationContext context)
    {
        if (exception is not WsManException wire)
        {
            return exception;
        }

        switch (wire.Failure)
        {
            case WsManFailure.Unreachable:
                return new HypervisorUnavailableException(wire.Message, wire) { NativeCode = wire.NativeCode };
            case WsManFailure.TimedOut:
            case WsManFailure.JobTimedOut:
                return new HypervisorTimeoutException(wire.Message, wire) { NativeCode = wire.NativeCode };
            case WsManFailure.Unauthorized:
                return new HypervisorAuthenticationException(wire.Message, wire) { NativeCode = wire.NativeCode };
            case WsManFailure.HttpStatus when wire.HttpStatus is 502 or 503 or 504 or 408 or 429:
                return new HypervisorUnavailableException(wire.Message, wire) { NativeCode = wire.NativeCode };
            case WsManFailure.HttpStatus:
            case WsManFailure.Malformed:
            case WsManFailure.TooLarge:
                return new HypervisorException(HypervisorErrorKind.Unknown, wire.Message, wire) { NativeCode = wire.NativeCode };
        }

        var (kind, meaning) = Lookup(wire.NativeCode);
        var text = $"{wire.Message} ({wire.NativeCode}: {meaning})";
        if (context.InstanceId is { } instanceId)
        {
            if (kind == HypervisorErrorKind.NotFound && wire.ClassName is "Msvm_ComputerSystem")
            {
                return new InstanceNotFoundException(instanceId, wire) { NativeCode = wire.NativeCode };
            }

            if (kind == HypervisorErrorKind.InvalidPowerState && wire.ObservedState is { } state)
            {
                return new InvalidPowerStateException(instanceId, context.Operation, state, wire) { NativeCode = wire.NativeCode };
            }
        }

        return kind switch
        {
            HypervisorErrorKind.Unavailable => new HypervisorUnavailableException(text, wire) { NativeCode = wire.NativeCode },
            HypervisorErrorKind.Timeout => new HypervisorTimeoutException(text, wire) { NativeCode = wire.NativeCode },
            HypervisorErrorKind.AuthenticationFailed => new HypervisorAuthenticationException(text, wire) { NativeCode = wire.NativeCode },
            HypervisorErrorKind.InsufficientResources => new InsufficientResourcesException(text) { NativeCode = wire.NativeCode },
            _ => new HypervisorException(kind, text, wire) { NativeCode = wire.NativeCode },
        };
    }
}
