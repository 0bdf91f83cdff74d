namespace Hypervisors.Agent;

/// <summary>The agent's log messages, with stable event ids: 1xxx start-up, 2xxx operations, 3xxx sync and events, 4xxx driver calls, 5xxx requests.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Agent starting for {Urls}; journal in {DataDirectory}; authentication {Authentication}")]
    public static partial void AgentStarting(ILogger logger, string urls, string dataDirectory, string authentication);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Driver {Driver} of kind {Kind} configured")]
    public static partial void DriverConfigured(ILogger logger, string driver, string kind);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Driver kinds offered: {Kinds}")]
    public static partial void DriverKindsOffered(ILogger logger, string kinds);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "A driver package in the agent's directory was not loaded, so its kinds are not offered: {Problem}")]
    public static partial void DriverPackageSkipped(ILogger logger, string problem);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Agent listening on {Urls}")]
    public static partial void AgentListening(ILogger logger, string urls);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "Event stream closed by the client after event {LastEventId}")]
    public static partial void EventStreamClosed(ILogger logger, long lastEventId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Event stream reader fell {Buffer} events behind; ending its stream with an overflow event (it resumes from event {LastEventId})")]
    public static partial void EventStreamOverflow(ILogger logger, int buffer, long lastEventId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Journal {Path} opened; {Unfinished} unfinished operations to reconcile")]
    public static partial void JournalOpened(ILogger logger, string path, int unfinished);

    [LoggerMessage(EventId = 2000, Level = LogLevel.Debug, Message = "Operation {OperationId} accepted: {Kind} {InstanceId} on {Driver}")]
    public static partial void OperationAccepted(ILogger logger, string operationId, string kind, Guid instanceId, string driver);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Operation {OperationId} succeeded: {Kind} {InstanceId} on {Driver}")]
    public static partial void OperationSucceeded(ILogger logger, string operationId, string kind, Guid instanceId, string driver);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Operation {OperationId} failed: {Kind} {InstanceId} on {Driver}: {ErrorKind} {Detail}")]
    public static partial void OperationFailed(ILogger logger, string operationId, string kind, Guid instanceId, string driver, HypervisorErrorKind errorKind, string? detail);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "Operation {OperationId} ({Kind} {InstanceId} on {Driver}) threw an unexpected exception")]
    public static partial void OperationCrashed(ILogger logger, string operationId, string kind, Guid instanceId, string driver, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Reconciling operation {OperationId} ({Kind} {InstanceId} on {Driver}) left unfinished by the previous run: {Decision}")]
    public static partial void OperationReconciled(ILogger logger, string operationId, string kind, Guid instanceId, string driver, string decision);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "Operation {OperationId} interrupted by shutdown; it will be reconciled at the next start")]
    public static partial void OperationInterrupted(ILogger logger, string operationId);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Information, Message = "Stopping: no new operations; letting {Running} queued or running operations finish for up to {DrainTime}")]
    public static partial void Draining(ILogger logger, int running, TimeSpan drainTime);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "Pruned {Count} operations finished before {Before}")]
    public static partial void OperationsPruned(ILogger logger, int count, DateTimeOffset before);

    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning, Message = "Power state drift on {Driver}: instance {InstanceId} was {Known}, the hypervisor reports {Actual}")]
    public static partial void PowerStateDrift(ILogger logger, string driver, Guid instanceId, string known, string actual);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Power state sync of {Driver} failed")]
    public static partial void PowerSyncFailed(ILogger logger, string driver, Exception exception);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Event stream of {Driver} failed; resubscribing")]
    public static partial void EventPumpFailed(ILogger logger, string driver, Exception exception);

    [LoggerMessage(EventId = 5000, Level = LogLevel.Error, Message = "Request {Path} failed unexpectedly")]
    public static partial void UnhandledRequestError(ILogger logger, string path, Exception exception);
}
