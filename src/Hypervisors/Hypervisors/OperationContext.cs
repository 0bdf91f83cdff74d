namespace Hypervisors;

/// <summary>
/// What a driver call was doing when it failed: the contract operation, the instance it named and, for device
/// operations, the device. <see cref="HypervisorDriverBase"/> hands it to <see cref="HypervisorDriverBase.MapException"/>
/// so a driver can build the contract error (an <see cref="InstanceNotFoundException"/> for the instance, a
/// <see cref="DeviceNotFoundException"/> for the device) in one place.
/// </summary>
/// <param name="Operation">The contract operation.</param>
/// <param name="InstanceId">The instance, when the operation names one.</param>
/// <param name="DeviceKind">"volume", "interface" or "snapshot" for device operations; otherwise null.</param>
/// <param name="DeviceId">The volume id, MAC address or snapshot id the operation named; otherwise null.</param>
public readonly record struct OperationContext(InstanceOperation Operation, Guid? InstanceId, string? DeviceKind = null, string? DeviceId = null);
