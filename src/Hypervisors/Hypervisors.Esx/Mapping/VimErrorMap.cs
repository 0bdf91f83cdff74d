using System.Net.Sockets;
using System.Security.Authentication;
using System.Xml;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Mapping;

/// <summary>
/// The driver's one table from vSphere faults (and transport failures) to the contract's typed errors. Every
/// exception leaving the driver for a server-side failure passes through <see cref="ToHypervisorException"/>.
/// </summary>
internal static class VimErrorMap
{
    private static readonly Dictionary<string, Func<VimFaultException, OperationContext, HypervisorException>> Faults = new(StringComparer.Ordinal)
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
    /// Maps <paramref name="exception"/> to the contract's error; contract errors pass through. Called by the
    /// driver's <see cref="HypervisorDriverBase.MapException"/> only (the base keeps the caller's cancellation out).
    /// </summary>
    public static Exception ToHypervisorException(Exception exception, OperationContext context)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            HypervisorException => exception,
            VimFaultException fault => Faults.TryGetValue(fault.FaultType, out var map)
                ? map(fault, context)
                : new HypervisorException($"vSphere fault {fault.FaultType} during {context.Operation}: {fault.Message}", fault) { NativeCode = fault.FaultType, InstanceId = context.InstanceId },
            HttpRequestException { InnerException: AuthenticationException } http => new HypervisorAuthenticationException(
                "The vSphere server's TLS certificate is not trusted. Trust it through the certificate store or pin its SHA-256 thumbprint in Tls:PinnedSha256Thumbprints.", http),
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

    private static HypervisorException PowerStateError(VimFaultException fault, OperationContext context, PowerState? reported)
    {
        // The driver checks the state before each power call; a fault here means it changed in between. The fault's
        // existingState, when it has one, is the state to report.
        if (context.InstanceId is { } id && reported is { } current)
        {
            return new InvalidPowerStateException(id, context.Operation, current, fault) { NativeCode = fault.FaultType };
        }

        return new HypervisorException(HypervisorErrorKind.InvalidPowerState, $"vSphere refused {context.Operation} in the instance's current state: {fault.Message}", fault)
        {
            NativeCode = fault.FaultType,
            InstanceId = context.InstanceId,
        };
    }

    private static HypervisorException NotFound(VimFaultException fault, OperationContext context)
    {
        if (context.InstanceId is not { } id)
        {
            return new HypervisorException(HypervisorErrorKind.NotFound, "A vSphere object was not found: " + fault.Message, fault) { NativeCode = fault.FaultType };
        }

        return context.DeviceKind is { } kind
            ? new DeviceNotFoundException(id, kind, context.DeviceId ?? string.Empty, fault) { NativeCode = fault.FaultType }
            : new InstanceNotFoundException(id, fault) { NativeCode = fault.FaultType };
    }

    private static HypervisorException AlreadyExists(VimFaultException fault, OperationContext context) =>
        new InstanceAlreadyExistsException($"vSphere refused {context.Operation}: the name or device already exists ({fault.Message}).", fault) { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException NotSupported(VimFaultException fault, OperationContext context) =>
        new OperationNotSupportedException(EsxDriver.HypervisorType, context.Operation, "the vSphere endpoint does not support it (" + fault.Message + ").") { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException InvalidSpec(VimFaultException fault, OperationContext context) =>
        new InvalidSpecException(fault.Detail?.ChildText("invalidProperty") ?? fault.Detail?.ChildText("property") ?? "spec", $"vSphere refused {context.Operation}: {fault.Message}") { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException InsufficientResources(VimFaultException fault, OperationContext context) =>
        new InsufficientResourcesException($"vSphere lacks the resources for {context.Operation}: {fault.Message}") { NativeCode = fault.FaultType, InstanceId = context.InstanceId };

    private static HypervisorException Unavailable(VimFaultException fault, OperationContext context) =>
        new HypervisorUnavailableException($"vSphere could not reach the host during {context.Operation}: {fault.Message}", fault) { NativeCode = fault.FaultType };
}
