namespace Hypervisors;

/// <summary>
/// An instance's power state, as OpenStack Nova models it (the numeric values are Nova's
/// <c>nova.compute.power_state</c> constants, so they can cross a wire unchanged).
/// </summary>
public enum PowerState
{
    /// <summary>The hypervisor reports no usable state (transient, or lost track of).</summary>
    NoState = 0,

    /// <summary>Powered on and executing.</summary>
    Running = 1,

    /// <summary>vCPUs frozen, memory resident.</summary>
    Paused = 3,

    /// <summary>Powered off; defined but using no CPU or memory.</summary>
    Shutdown = 4,

    /// <summary>The guest crashed and was left in place.</summary>
    Crashed = 6,

    /// <summary>Memory saved to storage; no host resources in use.</summary>
    Suspended = 7,
}

/// <summary>How <see cref="IHypervisorDriver.RebootInstanceAsync"/> reboots.</summary>
public enum RebootKind
{
    /// <summary>Ask the guest to reboot itself (ACPI or guest tools).</summary>
    Soft,

    /// <summary>Reset the virtual machine.</summary>
    Hard,
}
