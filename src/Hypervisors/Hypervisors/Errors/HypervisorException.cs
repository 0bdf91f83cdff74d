namespace Hypervisors;

/// <summary>The base of every error a driver raises for a hypervisor-side failure.</summary>
public class HypervisorException : Exception
{
    /// <summary>Creates an error of <paramref name="kind"/>.</summary>
    public HypervisorException(HypervisorErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException) => Kind = kind;

    /// <summary>Creates an error of kind <see cref="HypervisorErrorKind.Unknown"/>.</summary>
    public HypervisorException(string message, Exception? innerException = null)
        : this(HypervisorErrorKind.Unknown, message, innerException)
    {
    }

    /// <summary>What went wrong, for callers that switch on it (and for the wire).</summary>
    public HypervisorErrorKind Kind { get; }

    /// <summary>Whether the same call may succeed if retried later.</summary>
    public virtual bool IsTransient => Kind is HypervisorErrorKind.Unavailable or HypervisorErrorKind.Timeout;

    /// <summary>The instance concerned, when there is one.</summary>
    public Guid? InstanceId { get; init; }

    /// <summary>The hypervisor's own error code ("VM_BAD_POWER_STATE", "VIR_ERR_NO_DOMAIN", "InvalidPowerState", "32775"), when there is one.</summary>
    public string? NativeCode { get; init; }
}

/// <summary>No instance has the id.</summary>
public sealed class InstanceNotFoundException : HypervisorException
{
    /// <summary>Creates the error for <paramref name="instanceId"/>; <see cref="HypervisorException.InstanceId"/> carries it too.</summary>
    public InstanceNotFoundException(Guid instanceId, Exception? innerException = null)
        : base(HypervisorErrorKind.NotFound, $"Instance {instanceId} was not found.", innerException)
    {
        MissingInstanceId = instanceId;
        InstanceId = instanceId;
    }

    /// <summary>The id that was not found.</summary>
    public Guid MissingInstanceId { get; }
}

/// <summary>The instance exists, but the device, volume, interface or snapshot does not.</summary>
public sealed class DeviceNotFoundException(Guid instanceId, string deviceKind, string deviceId, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.DeviceNotFound, $"Instance {instanceId} has no {deviceKind} '{deviceId}'.", innerException)
{
    /// <summary>"volume", "interface" or "snapshot".</summary>
    public string DeviceKind { get; } = deviceKind;

    /// <summary>The id that was not found.</summary>
    public string DeviceId { get; } = deviceId;
}

/// <summary>The instance's power state does not allow the operation.</summary>
public sealed class InvalidPowerStateException : HypervisorException
{
    /// <summary>Creates the error for <paramref name="operation"/> refused in <paramref name="currentState"/>.</summary>
    public InvalidPowerStateException(Guid instanceId, InstanceOperation operation, PowerState currentState, Exception? innerException = null)
        : base(HypervisorErrorKind.InvalidPowerState,
            $"Cannot {operation} instance {instanceId}: it is {currentState}; {operation} needs {string.Join(" or ", PowerStateRules.AllowedFrom(operation))}.",
            innerException)
    {
        Operation = operation;
        CurrentState = currentState;
        InstanceId = instanceId;
    }

    /// <summary>The operation that was refused.</summary>
    public InstanceOperation Operation { get; }

    /// <summary>The instance's state when it was refused.</summary>
    public PowerState CurrentState { get; }
}

/// <summary>The id, name, volume id or MAC address is taken, or a create was repeated with a different spec.</summary>
public sealed class InstanceAlreadyExistsException(string message, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.AlreadyExists, message, innerException);

/// <summary>A request failed validation; <see cref="Field"/> names the offending field.</summary>
public sealed class InvalidSpecException(string field, string message)
    : HypervisorException(HypervisorErrorKind.InvalidSpec, $"{field}: {message}")
{
    /// <summary>The path of the offending field ("spec.Disks[1].SizeGiB").</summary>
    public string Field { get; } = field;
}

/// <summary>The driver does not support the operation; its capabilities say so.</summary>
public sealed class OperationNotSupportedException(string hypervisorType, InstanceOperation operation, string? detail = null)
    : HypervisorException(HypervisorErrorKind.NotSupported,
        $"The {hypervisorType} driver does not support {operation}{(detail is null ? "." : ": " + detail)}")
{
    /// <summary>The operation.</summary>
    public InstanceOperation Operation { get; } = operation;
}

/// <summary>The host lacks the resources for the request.</summary>
public sealed class InsufficientResourcesException(string message)
    : HypervisorException(HypervisorErrorKind.InsufficientResources, message);

/// <summary>The hypervisor refused the credentials.</summary>
public sealed class HypervisorAuthenticationException(string message, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.AuthenticationFailed, message, innerException);

/// <summary>The hypervisor could not be reached or the connection dropped; the call may succeed if retried.</summary>
public sealed class HypervisorUnavailableException(string message, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.Unavailable, message, innerException);

/// <summary>The hypervisor did not finish the operation in time.</summary>
public sealed class HypervisorTimeoutException(string message, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.Timeout, message, innerException);
