using System.Collections.Frozen;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Mapping;

/// <summary>
/// The one table from XenAPI error codes (ocaml/idl/datamodel_errors.ml) to the contract's typed errors. Codes not
/// in the table become a <see cref="HypervisorException"/> of kind Unknown carrying the code.
/// </summary>
internal static class XenErrorMap
{
    private static readonly FrozenDictionary<string, Func<XenApiFailureException, OperationContext, HypervisorException>> Table =
        new Dictionary<string, Func<XenApiFailureException, OperationContext, HypervisorException>>(StringComparer.Ordinal)
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

            // [vm]: a live HVM guest without PV drivers or the feature flag (xapi_vm_lifecycle.ml check_op_for_feature).
            ["VM_LACKS_FEATURE"] = (e, c) => Guest(e, c, "the guest has no PV drivers and does not report the feature."),

            // The codes older xapi releases used for the same refusal.
            ["VM_LACKS_FEATURE_SHUTDOWN"] = (e, c) => Guest(e, c, "the guest cannot shut down cleanly."),
            ["VM_LACKS_FEATURE_SUSPEND"] = (e, c) => Guest(e, c, "the guest cannot suspend."),

            // [vm, reason]: the guest says it cannot be suspended (data/cant_suspend_reason).
            ["VM_NON_SUSPENDABLE"] = (e, c) => Guest(e, c, $"the guest cannot be suspended: {Param(e, 1)}"),

            // [vm]: VBD/VIF plug and unplug on a running HVM guest without PV drivers (xapi_vbd_helpers.ml).
            ["VM_MISSING_PV_DRIVERS"] = (e, c) => Guest(e, c, "the guest has no PV drivers."),

            // [reason]; the guest's "no" to hot-plug comes as this generic code.
            ["OPERATION_NOT_ALLOWED"] = (e, c) => c.Operation is InstanceOperation.AttachVolume or InstanceOperation.DetachVolume
                    or InstanceOperation.AttachInterface or InstanceOperation.DetachInterface
                && Param(e, 0).Contains("hotplug", StringComparison.OrdinalIgnoreCase)
                    ? Guest(e, c, Param(e, 0))
                    : Unclassified(e, c),
            ["MAP_DUPLICATE_KEY"] = (e, _) => new InstanceAlreadyExistsException($"XenAPI: key '{Param(e, 2)}' already exists.", e),
            ["TASK_CANCELLED"] = (e, c) => new HypervisorTimeoutException($"The XenAPI task for {c.Operation} was cancelled.", e),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>
    /// The driver's one mapping from what the wire layer throws to the contract (called from
    /// <c>XenDriver.MapException</c> only): XenAPI failures through the table, malformed answers as protocol errors,
    /// transport failures as unavailable (or a timeout). Anything else passes unchanged.
    /// </summary>
    public static Exception ToHypervisorException(Exception exception, OperationContext context) => exception switch
    {
        XenApiFailureException failure => Map(failure, context),
        XenApiProtocolException protocol => new HypervisorException(protocol.Message, protocol) { NativeCode = "XENAPI_PROTOCOL" },
        XenApiTransportException { TimedOut: true } timeout => new HypervisorTimeoutException(timeout.Message, timeout),
        XenApiTransportException transport => new HypervisorUnavailableException(transport.Message, transport)
        {
            NativeCode = transport.HttpStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        _ => exception,
    };

    /// <summary>Maps a failure to the contract's typed error; the failure is kept as the inner exception.</summary>
    public static HypervisorException Map(XenApiFailureException failure, OperationContext context) =>
        Table.TryGetValue(failure.Code, out var factory) ? factory(failure, context) : Unclassified(failure, context);

    private static HypervisorException Unclassified(XenApiFailureException e, OperationContext c) =>
        new(e.Message, e) { NativeCode = e.Code, InstanceId = c.InstanceId };

    private static HypervisorException Guest(XenApiFailureException e, OperationContext c, string detail) =>
        c.InstanceId is { } id
            ? new GuestFeatureUnavailableException(id, c.Operation, detail, e) { NativeCode = e.Code }
            : new HypervisorException(HypervisorErrorKind.GuestFeatureUnavailable, $"Cannot {c.Operation}: {detail}", e) { NativeCode = e.Code };

    private static HypervisorException NotFound(XenApiFailureException e, OperationContext c)
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

    private static HypervisorUnavailableException Transient(XenApiFailureException e, OperationContext c) =>
        new($"XenAPI is busy ({e.Code}) for {c.Operation}; retrying later may succeed.", e) { NativeCode = e.Code };

    private static InsufficientResourcesException Insufficient(XenApiFailureException e, OperationContext c) =>
        new($"The Xen host lacks resources for {c.Operation}: {e.Message}");

    private static string Param(XenApiFailureException e, int index) => e.Parameters.Count > index ? e.Parameters[index] : string.Empty;
}
