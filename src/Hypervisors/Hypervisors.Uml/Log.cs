using Microsoft.Extensions.Logging;

namespace Hypervisors.Uml;

/// <summary>The driver's log messages; event ids 1400-1499.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "UML instance {InstanceId} started (pid {Pid})")]
    public static partial void GuestStarted(ILogger logger, Guid instanceId, int pid);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "UML instance {InstanceId} re-adopted after a driver restart (pid {Pid})")]
    public static partial void GuestAdopted(ILogger logger, Guid instanceId, int pid);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Information, Message = "UML instance {InstanceId} exited (code {ExitCode}, crashed {Crashed})")]
    public static partial void GuestExited(ILogger logger, Guid instanceId, int? exitCode, bool crashed);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Warning, Message = "UML instance {InstanceId} reported a panic: {Message}")]
    public static partial void GuestPanicked(ILogger logger, Guid instanceId, string message);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "UML instance {InstanceId} did not halt within {Timeout}; killing its process group {Pid}")]
    public static partial void GuestKilled(ILogger logger, Guid instanceId, TimeSpan timeout, int pid);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Information, Message = "UML instance {InstanceId} rebooted during a graceful stop; halting it")]
    public static partial void HaltingRebootedGuest(ILogger logger, Guid instanceId);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Warning, Message = "Skipping UML instance folder {Directory}: {Reason}")]
    public static partial void SkippedInstanceFolder(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Information, Message = "UML guest {InstanceId} notification {Type}: {Text}")]
    public static partial void GuestNotification(ILogger logger, Guid instanceId, string type, string text);

    [LoggerMessage(EventId = 1408, Level = LogLevel.Warning, Message = "Could not save the record of UML instance {InstanceId}")]
    public static partial void RecordSaveFailed(ILogger logger, Guid instanceId, Exception exception);

    [LoggerMessage(EventId = 1409, Level = LogLevel.Information, Message = "UML driver: interfaces {Support}: {Reason}")]
    public static partial void InterfaceSupport(ILogger logger, string support, string reason);
}
