using Microsoft.Extensions.Logging;

namespace Hypervisors.HyperV;

/// <summary>The driver's log messages; event ids 5101-5149 belong to the Hyper-V driver.</summary>
public sealed partial class HyperVDriver
{
    [LoggerMessage(EventId = 5101, EventName = "HyperVInstanceCreated", Level = LogLevel.Information, Message = "Created instance {InstanceId} as Hyper-V VM {VmGuid}.")]
    private static partial void LogCreated(ILogger logger, Guid instanceId, string vmGuid);

    [LoggerMessage(EventId = 5102, EventName = "HyperVInstanceDeleted", Level = LogLevel.Information, Message = "Deleted instance {InstanceId} (Hyper-V VM {VmGuid}).")]
    private static partial void LogDeleted(ILogger logger, Guid instanceId, string vmGuid);

    [LoggerMessage(EventId = 5103, EventName = "HyperVRollbackFailed", Level = LogLevel.Warning, Message = "Could not roll back the half-created Hyper-V VM {VmGuid}.")]
    private static partial void LogRollbackFailed(ILogger logger, string vmGuid, Exception exception);

    [LoggerMessage(EventId = 5104, EventName = "HyperVTransitionRefused", Level = LogLevel.Debug, Message = "Hyper-V refused {Operation} on instance {InstanceId} ({NativeCode}); its state is {State}.")]
    private static partial void LogTransitionRefused(ILogger logger, Guid instanceId, InstanceOperation operation, PowerState state, string nativeCode);

    [LoggerMessage(EventId = 5105, EventName = "HyperVShutdownRefused", Level = LogLevel.Information, Message = "The guest of instance {InstanceId} did not take the shutdown request ({NativeCode}); the stop ends with a power off after its timeout.")]
    private static partial void LogShutdownRefused(ILogger logger, Guid instanceId, string nativeCode);

    [LoggerMessage(EventId = 5106, EventName = "HyperVServiceFound", Level = LogLevel.Debug, Message = "Found the host's {ClassName} on {SystemName}.")]
    private static partial void LogServiceFound(ILogger logger, string className, string systemName);
}
