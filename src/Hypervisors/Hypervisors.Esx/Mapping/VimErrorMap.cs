using System.Net.Sockets;
using System.Security.Authentication;
using System.Xml;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Mapping;

/// <summary>What the driver was doing when a call failed, so a fault can name the instance, device and state.</summary>
/// <param name="Operation">The contract operation.</param>
/// <param name="InstanceId">The instance, when there is one.</param>
/// <param name="DeviceKind">"volume", "interface" or "snapshot" for device operations.</param>
/// <param name="DeviceId">The device's id for device operations.</param>
internal sealed class ErrorContext(InstanceOperation operation, Guid? instanceId = null, string? deviceKind = null, string? deviceId = null)
{
    public InstanceOperation Operation { get; } = operation;

    public Guid? InstanceId { get; } = instanceId;

    public string? DeviceKind { get; } = deviceKind;

    public string? DeviceId { get; } = deviceId;

    /// <summary>The power state the driver last read during the operation, when it has one.</summary>
    public PowerState? CurrentState { get; set; }
}

/// <summary>
/// The driver's one table from vSphere faults (and transport failures) to the contract's typed errors. Every
/// exception leaving the driver for a server-side failure passes through <see cref="ToHypervisorException"/>.
/// </summary>
internal static class VimErrorMap
{
    private static readonly Dictionary<string, Func<VimFaultException, ErrorContext, HypervisorException>> Faults = new(StringComparer.Ordinal)
    {
        ["InvalidPowerState"] = (f, c) => PowerStateError(f, c, PowerStateMapping.FromVim(f.Detail?.ChildText("existingState"))),
        ["InvalidState"] = (f, c) => PowerStateError(f, c, null),
        ["ToolsUnavailable"] = (f, c) => PowerStateError(f, c, null),
        ["ManagedObjectNotFound"] = NotFound,
        ["NotFound"] = NotFound,
        ["FileNotFound"] = (f, c) => new InvalidSpecException(c.DeviceKind == "volume" ? "volume.Source" : "file", f.Message) { NativeCode = f.FaultType },
        ["InvalidLogin"] = (f, _) => new HypervisorAuthenticationException("vSphere refused the user name or password.", f) { NativeCode = f.FaultType },
        ["NotAuthenticated"] = (f, _) => new HypervisorAuthenticationException("The vSphere session is not authenticated and logging in again did not help.", f) { NativeCode = f.FaultType },
        ["NoPermission"] = (f, _) => new HypervisorAuthenticationException("The vSphere user lacks a privilege the operation needs: " + f.Message, f) { NativeCode = f.FaultType },
        ["DuplicateName"] = AlreadyExists,
        ["AlreadyExists"] = AlreadyExists,
        ["FileAlreadyExists"] = AlreadyExists,
        ["NotSupported"] = NotSupported,
        ["MethodNotFound"] = NotSupported,
        ["NotImplemented"] = NotSupported,
        ["InvalidArgument"] = InvalidSpec,
        ["InvalidRequest"] = InvalidSpec,
        ["InvalidVmConfig"] = InvalidSpec,
        ["InvalidDeviceSpec"] = InvalidSpec,
        ["InvalidProperty"] = InvalidSpec,
        ["InvalidName"] = InvalidSpec,
        ["InsufficientResourcesFault"] = InsufficientResources,
        ["InsufficientMemoryResourcesFault"] = InsufficientResources,
        ["InsufficientCpuResourcesFault"] = InsufficientResources,
        ["InsufficientStorageSpace"] = InsufficientResources,
        ["OutOfBounds"] = InsufficientResources,
        ["Timedout"] = (f, _) => new HypervisorTimeoutException("vSphere timed out: " + f.Message, f) { NativeCode = f.FaultType },
        ["HostNotConnected"] = Unavailable,
        ["HostCommunication"] = Unavailable,
        ["HostNotReachable"] = Unavailable,
        ["RequestCanceled"] = Unavailable,
    };

    /// <summary>
    /// Maps <paramref name="exception"/> to the contract's error; cancellation asked for by the caller stays an
    /// <see cref="OperationCanceledException"/>, and contract errors pass through.
    /// </summary>
    public static Exception ToHypervisorException(Exception exception, ErrorContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            OperationCanceledException when cancellationToken.IsCancellationRequested => exception,
            HypervisorException => exception,
            VimFaultException fault => Faults.TryGetValue(fault.FaultType, out var map)
                ? map(fault, context)
                : new HypervisorException($"vSphere fault {fault.FaultType} during {context.Operation}: {fault.Message}", fault) { NativeCode = fault.FaultType, InstanceId = context.InstanceId },
            HttpRequestException { InnerException: AuthenticationException } http => new HypervisorAuthenticationException(
                "The vSphere server's TLS certificate is not trusted. Trust it through the certificate store or pin its thumbprint in EsxDriverOptions.TrustedThumbprints.", http),
            HttpRequestException { StatusCode: System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden } http =>
                new HypervisorAuthenticationException("The vSphere endpoint (or a proxy before it) refused the request: " + http.Message, http),
            HttpRequestException { StatusCode: { } status } http when (int)status is >= 400 and < 500 and not 408 and not 429 =>
                new HypervisorException($"The vSphere endpoint answered HTTP {(int)status}; check the SDK URL.", http) { NativeCode = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture) },
            HttpRequestException or IOException or SocketException => new HypervisorUnavailableException("The vSphere endpoint could not be reached: " + exception.Message, exception),
            TimeoutException => new HypervisorTimeoutException(exception.Message, exception),
            OperationCanceledException => new HypervisorTimeoutException($"{context.Operation} was cut short by the transport.", exception),
            XmlException or InvalidDataException => new HypervisorException($"The vSphere endpoint sent a malformed or oversized response during {context.Operation}: {exception.Message}", exception),
            _ => exception,
        };
    }

    private static HypervisorException PowerStateError(VimFaultException fault, ErrorContext context, PowerState? reported)
    {
        var state = reported ?? context.CurrentState;
        if (context.InstanceId is { } id && state is { } current)
        {
            return new InvalidPowerStateException(id, context.Operation, current, fault) { NativeCode = fault.FaultType };
        }

        return new HypervisorException(HypervisorErrorKind.InvalidPowerState, $"vSphere refused {context.Operation} in the instance's current state: {fault.Message}", fault)
        {
            NativeCode = fault.FaultType,
            InstanceId = context.InstanceId,
        };
    }

    private static HypervisorException NotFound(VimFaultException fault, ErrorContext context)
    {
        if (context.InstanceId is not { } id)
        {
            return new HypervisorException(HypervisorErrorKind.NotFound, "A vSphere object was not found: " + fault.Message, fault) { NativeCode = fault.FaultType };
        }

        return context.DeviceKind is { } kind
            ? new DeviceNotFoundException(id, kind, context.DeviceId ?? string.Empty, fault) { NativeCode = fault.FaultType }
            : new InstanceNotFoundException(id, fault) { NativeCode = fault.FaultType };
    }

    private static HypervisorException AlreadyExists(VimFaultException fault, ErrorContext context) =>
        new InstanceAlreadyExistsException($"vSphere refused {context.Operation}: the name or device already exists ({fault.Message}).", fault) { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException NotSupported(VimFaultException fault, ErrorContext context) =>
        new OperationNotSupportedException(EsxDriver.HypervisorType, context.Operation, "the vSphere endpoint does not support it (" + fault.Message + ").") { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException InvalidSpec(VimFaultException fault, ErrorContext context) =>
        new InvalidSpecException(fault.Detail?.ChildText("invalidProperty") ?? fault.Detail?.ChildText("property") ?? "spec", $"vSphere refused {context.Operation}: {fault.Message}") { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException InsufficientResources(VimFaultException fault, ErrorContext context) =>
        new InsufficientResourcesException($"vSphere lacks the resources for {context.Operation}: {fault.Message}") { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException Unavailable(VimFaultException fault, ErrorContext context) =>
        new HypervisorUnavailableException($"vSphere could not reach the host during {context.Operation}: {fault.Message}", fault) { NativeCode = fault.FaultType };
}
