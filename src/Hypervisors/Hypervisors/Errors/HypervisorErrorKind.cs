namespace Hypervisors;

/// <summary>The kind of a <see cref="HypervisorException"/>, stable across process and wire boundaries.</summary>
public enum HypervisorErrorKind
{
    /// <summary>A failure the driver could not classify.</summary>
    Unknown,

    /// <summary>The instance does not exist.</summary>
    NotFound,

    /// <summary>A device, volume or snapshot does not exist on an instance that does.</summary>
    DeviceNotFound,

    /// <summary>The instance's power state does not allow the operation.</summary>
    InvalidPowerState,

    /// <summary>The id, name or device is taken.</summary>
    AlreadyExists,

    /// <summary>The request is malformed.</summary>
    InvalidSpec,

    /// <summary>The driver does not support the operation.</summary>
    NotSupported,

    /// <summary>The host lacks the CPU, memory or disk the request needs.</summary>
    InsufficientResources,

    /// <summary>The hypervisor refused the credentials.</summary>
    AuthenticationFailed,

    /// <summary>The hypervisor could not be reached or dropped the connection; retrying may succeed.</summary>
    Unavailable,

    /// <summary>The operation did not finish in time on the hypervisor's side.</summary>
    Timeout,

    /// <summary>
    /// The operation needs the guest's cooperation (guest agent, PV drivers, integration services) and the guest
    /// lacks it; nothing was changed.
    /// </summary>
    GuestFeatureUnavailable,
}
