using Hypervisors.Libvirt.Native;

namespace Hypervisors.Libvirt.Mapping;

/// <summary>
/// The one table from libvirt's error numbers to the contract's error kinds, and the factory that turns a kind
/// into the typed exception. The driver sends every failed libvirt call through here.
/// </summary>
internal static class LibvirtErrorMap
{
    // virErrorNumber values (libvirt-api.xml) the driver refers to by name.
    public const int InternalError = 1;
    public const int OperationFailed = 9;
    public const int DomExist = 28;
    public const int SystemError = 38;
    public const int NoDomain = 42;
    public const int OperationInvalid = 55;
    public const int NoDomainMetadata = 80;

    /// <summary>The table: libvirt error number -> its C name and the contract's kind (connection-dependent rows in <see cref="KindOf"/>).</summary>
    private static readonly Dictionary<int, (string Name, HypervisorErrorKind Kind)> Table = new()
    {
        [1] = ("VIR_ERR_INTERNAL_ERROR", HypervisorErrorKind.Unknown),
        [3] = ("VIR_ERR_NO_SUPPORT", HypervisorErrorKind.NotSupported),
        [5] = ("VIR_ERR_NO_CONNECT", HypervisorErrorKind.Unavailable),
        [6] = ("VIR_ERR_INVALID_CONN", HypervisorErrorKind.Unavailable),
        [8] = ("VIR_ERR_INVALID_ARG", HypervisorErrorKind.InvalidSpec),
        [9] = ("VIR_ERR_OPERATION_FAILED", HypervisorErrorKind.Unknown),
        [27] = ("VIR_ERR_XML_ERROR", HypervisorErrorKind.InvalidSpec),
        [28] = ("VIR_ERR_DOM_EXIST", HypervisorErrorKind.AlreadyExists),
        [29] = ("VIR_ERR_OPERATION_DENIED", HypervisorErrorKind.AuthenticationFailed),
        [38] = ("VIR_ERR_SYSTEM_ERROR", HypervisorErrorKind.Unknown),
        [39] = ("VIR_ERR_RPC", HypervisorErrorKind.Unavailable),
        [42] = ("VIR_ERR_NO_DOMAIN", HypervisorErrorKind.NotFound),
        [45] = ("VIR_ERR_AUTH_FAILED", HypervisorErrorKind.AuthenticationFailed),
        [55] = ("VIR_ERR_OPERATION_INVALID", HypervisorErrorKind.InvalidPowerState),
        [67] = ("VIR_ERR_CONFIG_UNSUPPORTED", HypervisorErrorKind.InvalidSpec),
        [68] = ("VIR_ERR_OPERATION_TIMEOUT", HypervisorErrorKind.Timeout),
        [72] = ("VIR_ERR_NO_DOMAIN_SNAPSHOT", HypervisorErrorKind.DeviceNotFound),
        [74] = ("VIR_ERR_ARGUMENT_UNSUPPORTED", HypervisorErrorKind.NotSupported),
        [79] = ("VIR_ERR_AUTH_CANCELLED", HypervisorErrorKind.AuthenticationFailed),
        [84] = ("VIR_ERR_OPERATION_UNSUPPORTED", HypervisorErrorKind.NotSupported),
        [88] = ("VIR_ERR_ACCESS_DENIED", HypervisorErrorKind.AuthenticationFailed),
        [90] = ("VIR_ERR_STORAGE_VOL_EXIST", HypervisorErrorKind.AlreadyExists),
        [92] = ("VIR_ERR_XML_INVALID_SCHEMA", HypervisorErrorKind.InvalidSpec),
        [94] = ("VIR_ERR_AUTH_UNAVAILABLE", HypervisorErrorKind.AuthenticationFailed),
        [99] = ("VIR_ERR_DEVICE_MISSING", HypervisorErrorKind.DeviceNotFound),
    };

    /// <summary>virErrorDomain of the RPC layer (VIR_FROM_RPC): its errors are about the connection itself.</summary>
    public const int FromRpc = 7;

    /// <summary>virErrorDomain of the remote driver (VIR_FROM_REMOTE).</summary>
    public const int FromRemote = 13;

    /// <summary>
    /// The kind of <paramref name="error"/>. <paramref name="connectionAlive"/> is what <c>virConnectIsAlive</c>
    /// said after the failure: an internal or system error on a dead connection is a lost connection.
    /// </summary>
    public static HypervisorErrorKind KindOf(LibvirtError error, bool connectionAlive)
    {
        // A lost connection shows as a system or internal error raised by the RPC layer, or on a dead connection.
        if (error.Code is InternalError or SystemError && (!connectionAlive || error.Domain is FromRpc or FromRemote))
        {
            return HypervisorErrorKind.Unavailable;
        }

        return Table.TryGetValue(error.Code, out var row) ? row.Kind : HypervisorErrorKind.Unknown;
    }

    /// <summary>The C name of the error number ("VIR_ERR_NO_DOMAIN"), or the number.</summary>
    public static string NameOf(int code) =>
        Table.TryGetValue(code, out var row) ? row.Name : "VIR_ERR_" + code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The typed exception for <paramref name="kind"/>. <paramref name="currentState"/> is the re-read power state
    /// for <see cref="HypervisorErrorKind.InvalidPowerState"/>; <paramref name="device"/> names the device for
    /// <see cref="HypervisorErrorKind.DeviceNotFound"/>.
    /// </summary>
    public static HypervisorException ToException(
        HypervisorErrorKind kind,
        LibvirtCallException failure,
        string hypervisorType,
        InstanceOperation operation,
        Guid? instanceId,
        PowerState? currentState = null,
        (string Kind, string Id)? device = null)
    {
        var message = $"libvirt {failure.Call} failed during {operation}: {failure.Error.Message}";
        var code = NameOf(failure.Error.Code);
        return kind switch
        {
            HypervisorErrorKind.NotFound when instanceId is { } id => new InstanceNotFoundException(id, failure) { InstanceId = id, NativeCode = code },
            HypervisorErrorKind.DeviceNotFound when instanceId is { } id && device is { } d =>
                new DeviceNotFoundException(id, d.Kind, d.Id, failure) { InstanceId = id, NativeCode = code },
            HypervisorErrorKind.InvalidPowerState when instanceId is { } id && currentState is { } state =>
                new InvalidPowerStateException(id, operation, state, failure) { NativeCode = code },
            HypervisorErrorKind.AlreadyExists => new InstanceAlreadyExistsException(message, failure) { InstanceId = instanceId, NativeCode = code },
            HypervisorErrorKind.AuthenticationFailed => new HypervisorAuthenticationException(message, failure) { InstanceId = instanceId, NativeCode = code },
            HypervisorErrorKind.Unavailable => new HypervisorUnavailableException(message, failure) { InstanceId = instanceId, NativeCode = code },
            HypervisorErrorKind.Timeout => new HypervisorTimeoutException(message, failure) { InstanceId = instanceId, NativeCode = code },
            HypervisorErrorKind.NotSupported =>
                new OperationNotSupportedException(hypervisorType, operation, failure.Error.Message) { InstanceId = instanceId, NativeCode = code },
            HypervisorErrorKind.InvalidSpec =>
                new InvalidSpecException(operation == InstanceOperation.Create ? "spec" : "request", failure.Error.Message) { InstanceId = instanceId, NativeCode = code },
            _ => new HypervisorException(HypervisorErrorKind.Unknown, message, failure) { InstanceId = instanceId, NativeCode = code },
        };
    }
}
