namespace Hypervisors.HyperV.Mapping;

/// <summary>Hyper-V's EnabledState and RequestedState values and their mapping to the contract's power states.</summary>
internal static class HyperVStates
{
    public const ushort Enabled = 2;
    public const ushort Disabled = 3;
    public const ushort ShutDown = 4;
    public const ushort Offline = 6;
    public const ushort Quiesce = 9;
    public const ushort Reboot = 10;
    public const ushort Reset = 11;

    /// <summary>Maps Msvm_ComputerSystem.EnabledState (including the older vendor values libvirt knows) to a power state.</summary>
    public static PowerState ToPowerState(ulong? enabledState) => enabledState switch
    {
        2 => PowerState.Running,
        3 => PowerState.Shutdown,
        4 => PowerState.Running, // Shutting down: still holds the host's resources.
        6 => PowerState.Suspended,
        9 => PowerState.Paused,
        10 => PowerState.Running, // Starting.
        32768 => PowerState.Paused,
        32769 => PowerState.Suspended,
        32770 or 32771 or 32773 or 32774 or 32776 => PowerState.Running, // Starting, snapshotting, saving, stopping, pausing.
        32777 => PowerState.Paused, // Resuming.
        _ => PowerState.NoState,
    };

    /// <summary>Whether the VM holds host CPU and memory in <paramref name="state"/>.</summary>
    public static bool HoldsResources(PowerState state) => state is PowerState.Running or PowerState.Paused;
}
