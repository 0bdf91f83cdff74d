using System.Collections.Frozen;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Mapping;

/// <summary>What the driver was doing when a XenAPI call failed.</summary>
/// <param name="Operation">The contract operation.</param>
/// <param name="InstanceId">The instance concerned, if any.</param>
internal readonly record struct XenCallContext(InstanceOperation Operation, Guid? InstanceId);

/// <summary>
/// The one table from XenAPI error codes (ocaml/idl/datamodel_errors.ml) to the contract's typed errors. Codes not
/// in the table become a <see cref="HypervisorException"/> of kind Unknown carrying the code.
/// </summary>
internal static class XenErrorMap
{
    private static readonly FrozenDictionary<string, Func<XenApiFailureException, XenCallContext, HypervisorException>> Table =
        new Dictionary<string, Func<XenApiFailureException, XenCallContext, HypervisorException>>(StringComparer.Ordinal)
        {
            // [vm, expected, actual]
            ["VM_BAD_POWER_STATE"] = (e, c) => new InvalidPowerStateException(c.InstanceId ?? Guid.Empty, c.Operation,
                XenPowerStates.Parse(e.Parameters.Count > 2 ? e.Parameters[2] : null), e),

            // [class, handle]
            ["HANDLE_INVALID"] = NotFound,
            ["UUID_INVALID"] = NotFound,
            ["SESSION_AUTHENTICATION_FAILED"] = (e, _) => new HypervisorAuthenticationException("XenAPI refused the credentials.", e),
            ["SESSION_INVALID"] = (e, _) => new HypervisorUnavailableException("The XenAPI session was lost and logging in again did not help.", e),
            ["HOST_IS_SLAVE"] = (e, _) => new HypervisorUnavailableException(
                $"The host is a pool member; connect to the pool master{(e.Parameters.Count > 0 ? " at " + e.Parameters[0] : string.Empty)}.", e),
            ["HOST_STILL_BOOTING"] = Transient,
            ["OTHER_OPERATION_IN_PROGRESS"] = Transient,
            ["VM_IN_USE"] = Transient,
            ["EVENTS_LOST"] = Transient,
            ["TOO_BUSY"] = Transient,
            ["HOST_NOT_ENOUGH_FREE_MEMORY"] = Insufficient,
            ["HOST_NOT_ENOUGH_PCPUS"] = Insufficient,
            ["SR_FULL"] = Insufficient,
            ["NO_HOSTS_AVAILABLE"] = Insufficient,
            ["MESSAGE_METHOD_UNKNOWN"] = (e, c) => new OperationNotSupportedException("Xen", c.Operation, $"the server has no method {Param(e, 0)}."),
            ["VM_LACKS_FEATURE_SHUTDOWN"] = (e, c) => new OperationNotSupportedException("Xen", c.Operation, "the guest cannot shut down cleanly."),
            ["VM_MISSING_PV_DRIVERS"] = (e, c) => new OperationNotSupportedException("Xen", c.Operation, "the guest has no PV drivers."),
            ["MAP_DUPLICATE_KEY"] = (e, _) => new InstanceAlreadyExistsException($"XenAPI: key '{Param(e, 2)}' already exists.", e),
            ["TASK_CANCELLED"] = (e, c) => new HypervisorTimeoutException($"The XenAPI task for {c.Operation} was cancelled.", e),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Maps a failure to the contract's typed error; the failure is kept as the inner exception.</summary>
    public static HypervisorException Map(XenApiFailureException failure, XenCallContext context) =>
        Table.TryGetValue(failure.Code, out var factory)
            ? factory(failure, context)
            : new HypervisorException(failure.Message, failure) { NativeCode = failure.Code, InstanceId = context.InstanceId };

    private static HypervisorException NotFound(XenApiFailureException e, XenCallContext c)
    {
        var kind = Param(e, 0).ToUpperInvariant() switch
        {
            "VBD" or "VDI" => "volume",
            "VIF" => "interface",
            _ => null,
        };
        if (kind is not null && c.InstanceId is { } owner)
        {
            return new DeviceNotFoundException(owner, kind, Param(e, 1), e);
        }

        return c.InstanceId is { } id
            ? new InstanceNotFoundException(id, e)
            : new HypervisorException(HypervisorErrorKind.NotFound, $"XenAPI: no {Param(e, 0)} '{Param(e, 1)}'.", e) { NativeCode = e.Code };
    }

    private static HypervisorUnavailableException Transient(XenApiFailureException e, XenCallContext c) =>
        new($"XenAPI is busy ({e.Code}) for {c.Operation}; retrying later may succeed.", e) { NativeCode = e.Code };

    private static InsufficientResourcesException Insufficient(XenApiFailureException e, XenCallContext c) =>
        new($"The Xen host lacks resources for {c.Operation}: {e.Message}");

    private static string Param(XenApiFailureException e, int index) => e.Parameters.Count > index ? e.Parameters[index] : string.Empty;
}
