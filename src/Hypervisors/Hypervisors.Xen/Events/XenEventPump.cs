using Hypervisors.Xen.Session;
using Hypervisors.Xen.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Xen.Events;

/// <summary>One event from <c>event.from</c>.</summary>
/// <param name="Class">The object's class in lower case ("vm", "task").</param>
/// <param name="Operation">"add", "mod" or "del".</param>
/// <param name="Ref">The object's reference.</param>
/// <param name="Snapshot">The object's record, when the server sent one.</param>
internal sealed record XenEvent(string Class, string Operation, string Ref, Dictionary<string, object?>? Snapshot);

/// <summary>
/// The driver's single <c>event.from</c> loop on classes <c>VM</c> and <c>task</c>: it completes the waits of
/// <see cref="WaitForTaskAsync"/> when a task leaves <c>pending</c> (no per-task polling) and hands VM events to the
/// driver. Transient failures back off and retry; <c>EVENTS_LOST</c> asks the driver to resynchronise.
/// </summary>
internal sealed partial class XenEventPump : IAsyncDisposable
{
    private static readonly string[] Classes = ["VM", "task"];

    private readonly XenApiSession _session;
    private readonly TimeSpan _pollTimeout;
    private readonly ILogger _logger;
    private readonly Action<XenEvent> _onVmEvent;
    private readonly Func<CancellationToken, Task<string>> _resynchronize;
    private const int MaxUnclaimedTasks = 4096;

    private readonly Lock _taskLock = new();
    private readonly Dictionary<string, TaskCompletionSource<Dictionary<string, object?>>> _taskWaiters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, object?>> _finishedUnclaimed = new(StringComparer.Ordinal);
    private readonly Queue<string> _unclaimedOrder = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public XenEventPump(XenApiSession session, TimeSpan pollTimeout, ILogger logger, Action<XenEvent> onVmEvent, Func<CancellationToken, Task<string>> resynchronize)
    {
        _session = session;
        _pollTimeout = pollTimeout;
        _logger = logger;
        _onVmEvent = onVmEvent;
        _resynchronize = resynchronize;
    }

    /// <summary>Gets a token for "now": events after it will be delivered.</summary>
    public static async Task<string> GetCurrentTokenAsync(XenApiSession session, CancellationToken cancellationToken)
    {
        // An empty token returns the requested classes' objects; the pool class has one object, so this is cheap.
        var result = XenValue.ToStruct(await session.CallAsync("event.from", [new[] { "pool" }, string.Empty, 0.0], TimeSpan.Zero, cancellationToken)
            .ConfigureAwait(false));
        return XenValue.ToText(XenValue.Member(result, "token"));
    }

    /// <summary>Starts the loop from <paramref name="token"/>.</summary>
    public void Start(string token) => _loop = Task.Run(() => RunAsync(token, _stop.Token));

    /// <summary>
    /// Waits until <paramref name="taskRef"/> is no longer pending and returns its record, as the loop delivers it.
    /// The loop's token predates every task the driver creates, so the completion always arrives; one that arrives
    /// before the caller starts waiting is kept (a bounded number of them) and claimed here.
    /// </summary>
    public async Task<Dictionary<string, object?>> WaitForTaskAsync(string taskRef, CancellationToken cancellationToken)
    {
        var waiter = new TaskCompletionSource<Dictionary<string, object?>>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_taskLock)
        {
            if (_finishedUnclaimed.Remove(taskRef, out var early))
            {
                return early;
            }

            _taskWaiters[taskRef] = waiter;
        }

        try
        {
            return await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_taskLock)
            {
                _taskWaiters.Remove(taskRef);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        lock (_taskLock)
        {
            foreach (var waiter in _taskWaiters.Values)
            {
                waiter.TrySetCanceled();
            }
        }

        _stop.Dispose();
    }

    private static bool IsFinished(Dictionary<string, object?> task) =>
        task.TryGetValue("status", out var status) && XenValue.ToText(status) is not ("pending" or "cancelling");

    private async Task RunAsync(string token, CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var result = XenValue.ToStruct(await _session.CallAsync("event.from", [Classes, token, _pollTimeout.TotalSeconds], _pollTimeout, stop)
                    .ConfigureAwait(false));
                token = XenValue.ToText(XenValue.Member(result, "token"));
                foreach (var item in XenValue.ToArray(XenValue.Member(result, "events")))
                {
                    Dispatch(XenValue.ToStruct(item));
                }

                failures = 0;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (XenApiFailureException ex) when (ex.Code == "EVENTS_LOST")
            {
                LogEventsLost(_logger);
                token = await RetryAsync(_resynchronize, stop).ConfigureAwait(false);
                await RecheckWaitersAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (XenApiRpcClient.IsCallFailure(ex))
            {
                failures++;
                LogLoopFailure(_logger, ex, failures);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 50 << Math.Min(failures, 7))), stop).ConfigureAwait(false);
            }
        }
    }

    private async Task<string> RetryAsync(Func<CancellationToken, Task<string>> action, CancellationToken stop)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (XenApiRpcClient.IsCallFailure(ex))
            {
                LogLoopFailure(_logger, ex, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 50 << Math.Min(attempt, 7))), stop).ConfigureAwait(false);
            }
        }
    }

    private void Dispatch(Dictionary<string, object?> item)
    {
        var cls = XenValue.ToText(item.GetValueOrDefault("class")).ToLowerInvariant();
        var operation = XenValue.ToText(item.GetValueOrDefault("operation"));
        var reference = XenValue.ToText(item.GetValueOrDefault("ref"));
        var snapshot = item.GetValueOrDefault("snapshot") as Dictionary<string, object?>;
        if (cls == "task")
        {
            if (snapshot is not null && IsFinished(snapshot))
            {
                Complete(reference, snapshot);
            }
        }
        else if (cls == "vm")
        {
            _onVmEvent(new XenEvent(cls, operation, reference, snapshot));
        }
    }

    private void Complete(string taskRef, Dictionary<string, object?> record)
    {
        lock (_taskLock)
        {
            if (_taskWaiters.TryGetValue(taskRef, out var waiter))
            {
                waiter.TrySetResult(record);
                return;
            }

            if (_finishedUnclaimed.TryAdd(taskRef, record))
            {
                _unclaimedOrder.Enqueue(taskRef);
                if (_unclaimedOrder.Count > MaxUnclaimedTasks)
                {
                    _finishedUnclaimed.Remove(_unclaimedOrder.Dequeue());
                }
            }
        }
    }

    /// <summary>After lost events, asks for each awaited task's record once, so no wait is left hanging.</summary>
    private async Task RecheckWaitersAsync(CancellationToken stop)
    {
        string[] waiting;
        lock (_taskLock)
        {
            waiting = [.. _taskWaiters.Keys];
        }

        foreach (var taskRef in waiting)
        {
            try
            {
                var record = XenValue.ToStruct(await _session.CallAsync("task.get_record", stop, taskRef).ConfigureAwait(false));
                if (IsFinished(record))
                {
                    Complete(taskRef, record);
                }
            }
            catch (Exception ex) when (XenApiRpcClient.IsCallFailure(ex))
            {
                LogLoopFailure(_logger, ex, 1);
            }
        }
    }

    [LoggerMessage(EventId = 4010, EventName = "XenEventLoopFailure", Level = LogLevel.Warning, Message = "XenAPI event.from failed ({Failures} in a row); retrying")]
    private static partial void LogLoopFailure(ILogger logger, Exception exception, int failures);

    [LoggerMessage(EventId = 4011, EventName = "XenEventsLost", Level = LogLevel.Information, Message = "XenAPI reported EVENTS_LOST; resynchronising the instance index")]
    private static partial void LogEventsLost(ILogger logger);
}
