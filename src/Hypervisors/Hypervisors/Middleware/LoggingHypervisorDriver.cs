using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Hypervisors;

/// <summary>
/// Logs every driver call: start and completion at Debug, typed failures at Warning (kind, type and native code;
/// not the message, which may echo hypervisor-side detail), other exceptions at Error. Specs are logged by shape
/// only: name, size and counts, never metadata values, paths or credentials.
/// </summary>
/// <remarks>Event ids: 1 starting, 2 completed, 3 failed, 4 canceled, 5 faulted, 6 create requested, 7 watch started, 8 watch ended.</remarks>
public sealed partial class LoggingHypervisorDriver : InterceptingHypervisorDriver
{
    private readonly ILogger _logger;
    private readonly string _driverName;

    /// <summary>Wraps <paramref name="innerDriver"/>, logging to <paramref name="logger"/> under <paramref name="driverName"/>.</summary>
    public LoggingHypervisorDriver(IHypervisorDriver innerDriver, ILogger logger, string? driverName = null)
        : base(innerDriver)
    {
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _driverName = driverName ?? innerDriver.Capabilities.HypervisorType;
    }

    /// <inheritdoc />
    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        if (spec is not null)
        {
            LogCreateRequested(_logger, _driverName, spec.Id, spec.Name, spec.VCpus, spec.MemoryMiB, spec.Disks?.Count ?? 0,
                spec.NetworkInterfaces?.Count ?? 0, spec.Metadata?.Count ?? 0, spec.StartAfterCreate);
        }

        return base.CreateInstanceAsync(spec!, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default)
    {
        var events = InnerDriver.WatchEventsAsync(cancellationToken);
        LogWatchStarted(_logger, _driverName);
        return Watch(events, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task<T> InterceptAsync<T>(InstanceOperation operation, Guid? instanceId, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        LogStarting(_logger, _driverName, operation, instanceId);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call(cancellationToken).ConfigureAwait(false);
            LogCompleted(_logger, _driverName, operation, instanceId, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return result;
        }
        catch (HypervisorException ex)
        {
            LogFailed(_logger, _driverName, operation, instanceId, Stopwatch.GetElapsedTime(started).TotalMilliseconds, ex.Kind, ex.GetType().Name, ex.NativeCode);
            throw;
        }
        catch (OperationCanceledException)
        {
            LogCanceled(_logger, _driverName, operation, instanceId, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            throw;
        }
        catch (Exception ex)
        {
            LogFaulted(_logger, ex, _driverName, operation, instanceId, Stopwatch.GetElapsedTime(started).TotalMilliseconds, ex.GetType().Name);
            throw;
        }
    }

    private async IAsyncEnumerable<InstanceEvent> Watch(IAsyncEnumerable<InstanceEvent> events, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var count = 0L;
        try
        {
            await foreach (var item in events.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                count++;
                yield return item;
            }
        }
        finally
        {
            LogWatchEnded(_logger, _driverName, count);
        }
    }

    [LoggerMessage(EventId = 1, EventName = "OperationStarting", Level = LogLevel.Debug, Message = "Hypervisor {Driver}: {Operation} starting (instance {InstanceId})")]
    private static partial void LogStarting(ILogger logger, string driver, InstanceOperation operation, Guid? instanceId);

    [LoggerMessage(EventId = 2, EventName = "OperationCompleted", Level = LogLevel.Debug, Message = "Hypervisor {Driver}: {Operation} completed in {ElapsedMs:F1} ms (instance {InstanceId})")]
    private static partial void LogCompleted(ILogger logger, string driver, InstanceOperation operation, Guid? instanceId, double elapsedMs);

    [LoggerMessage(EventId = 3, EventName = "OperationFailed", Level = LogLevel.Warning,
        Message = "Hypervisor {Driver}: {Operation} failed after {ElapsedMs:F1} ms (instance {InstanceId}): {ErrorKind} ({ErrorType}, native code {NativeCode})")]
    private static partial void LogFailed(ILogger logger, string driver, InstanceOperation operation, Guid? instanceId, double elapsedMs, HypervisorErrorKind errorKind, string errorType, string? nativeCode);

    [LoggerMessage(EventId = 4, EventName = "OperationCanceled", Level = LogLevel.Debug, Message = "Hypervisor {Driver}: {Operation} canceled after {ElapsedMs:F1} ms (instance {InstanceId})")]
    private static partial void LogCanceled(ILogger logger, string driver, InstanceOperation operation, Guid? instanceId, double elapsedMs);

    [LoggerMessage(EventId = 5, EventName = "OperationFaulted", Level = LogLevel.Error, Message = "Hypervisor {Driver}: {Operation} threw {ErrorType} after {ElapsedMs:F1} ms (instance {InstanceId})")]
    private static partial void LogFaulted(ILogger logger, Exception exception, string driver, InstanceOperation operation, Guid? instanceId, double elapsedMs, string errorType);

    [LoggerMessage(EventId = 6, EventName = "CreateRequested", Level = LogLevel.Information,
        Message = "Hypervisor {Driver}: creating instance {InstanceId} '{InstanceName}' ({VCpus} vCPUs, {MemoryMiB} MiB, {DiskCount} disks, {InterfaceCount} interfaces, {MetadataCount} metadata entries, start {StartAfterCreate})")]
    private static partial void LogCreateRequested(ILogger logger, string driver, Guid instanceId, string instanceName, int vCpus, long memoryMiB, int diskCount, int interfaceCount, int metadataCount, bool startAfterCreate);

    [LoggerMessage(EventId = 7, EventName = "WatchStarted", Level = LogLevel.Debug, Message = "Hypervisor {Driver}: event watch started")]
    private static partial void LogWatchStarted(ILogger logger, string driver);

    [LoggerMessage(EventId = 8, EventName = "WatchEnded", Level = LogLevel.Debug, Message = "Hypervisor {Driver}: event watch ended after {EventCount} events")]
    private static partial void LogWatchEnded(ILogger logger, string driver, long eventCount);
}
