namespace Hypervisors.Esx.Mapping;

/// <summary>vSphere's <c>VirtualMachinePowerState</c> in the contract's terms (vSphere has no paused state).</summary>
internal static class PowerStateMapping
{
    /// <summary>The contract state of a vSphere power state, or null for an unknown or missing one.</summary>
    public static PowerState? FromVim(string? state) => state switch
    {
        "poweredOn" => PowerState.Running,
        "poweredOff" => PowerState.Shutdown,
        "suspended" => PowerState.Suspended,
        _ => null,
    };
}
