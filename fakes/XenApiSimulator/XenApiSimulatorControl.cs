using System.Collections.Concurrent;
using XenApiSimulator.Model;

namespace XenApiSimulator;

/// <summary>
/// Test controls beyond XenAPI: make a method slow (so a client can cancel it while it is in progress), take the
/// host's free memory away (so starts and resumes fail with HOST_NOT_ENOUGH_FREE_MEMORY), and count the calls that
/// arrive per method (so tests and benches can hold a client to its round-trip budget). Reached through
/// <see cref="XenApiSimulatorOptions.Control"/>; nothing here is part of the XenAPI surface.
/// </summary>
public sealed class XenApiSimulatorControl
{
    private readonly ConcurrentDictionary<string, TimeSpan> _delays = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    /// <summary>The calls received since the last <see cref="ResetCallCounts"/>, by method as sent (<c>Async.VM.start</c> apart from <c>VM.start</c>).</summary>
    public IReadOnlyDictionary<string, int> CallCounts => new Dictionary<string, int>(_calls, StringComparer.Ordinal);

    /// <summary>Starts counting calls from zero.</summary>
    public void ResetCallCounts() => _calls.Clear();

    /// <summary>Counts one call of <paramref name="method"/>.</summary>
    internal void CountCall(string method) => _calls.AddOrUpdate(method, 1, (_, count) => count + 1);

    /// <summary>
    /// Holds every call of <paramref name="method"/> (for example <c>VM.start</c>, also when called as
    /// <c>Async.VM.start</c>) for <paramref name="delay"/> before it runs, until the returned handle is disposed. A
    /// call whose client goes away while it is held never runs.
    /// </summary>
    public IDisposable SlowDown(string method, TimeSpan delay)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        _delays[method] = delay;
        return new Undo(() => _delays.TryRemove(method, out _));
    }

    /// <summary>
    /// Sets the host's memory total to what running and paused VMs use, so none is free, until the returned handle
    /// is disposed (then the total is restored and the free memory recomputed).
    /// </summary>
    public static IDisposable FillHost(SimDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        long savedTotal;
        lock (database.Gate)
        {
            var metrics = Metrics(database);
            savedTotal = metrics.Long("memory_total");
            SetTotal(database, metrics, UsedMemory(database));
        }

        return new Undo(() =>
        {
            lock (database.Gate)
            {
                SetTotal(database, Metrics(database), savedTotal);
            }
        });
    }

    private long _importBreakAfter = -1;
    private int _importsFail;

    /// <summary>The number of body bytes after which <c>/import_raw_vdi</c> drops the connection, or null.</summary>
    internal long? ImportBreakAfter => Interlocked.Read(ref _importBreakAfter) is var cut and >= 0 ? cut : null;

    /// <summary>Whether <c>/import_raw_vdi</c> answers 500 (as xapi does when its handler raises) until undone.</summary>
    internal bool ImportsFail => Volatile.Read(ref _importsFail) != 0;

    /// <summary>
    /// Makes every <c>PUT /import_raw_vdi</c> drop its connection after reading <paramref name="afterBytes"/> bytes of
    /// the body (after the 200 and its task-id were sent), failing the task with VDI_IO_ERROR, until the handle is disposed.
    /// </summary>
    public IDisposable BreakImports(long afterBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(afterBytes);
        Interlocked.Exchange(ref _importBreakAfter, afterBytes);
        return new Undo(() => Interlocked.Exchange(ref _importBreakAfter, -1));
    }

    /// <summary>
    /// Makes every <c>PUT /import_raw_vdi</c> that would start writing answer HTTP 500 instead (the caller's task fails
    /// with INTERNAL_ERROR), until the handle is disposed.
    /// </summary>
    public IDisposable FailImports()
    {
        Volatile.Write(ref _importsFail, 1);
        return new Undo(() => Volatile.Write(ref _importsFail, 0));
    }

    /// <summary>Waits out the delay set for <paramref name="method"/>, if any.</summary>
    internal Task DelayAsync(string method, CancellationToken cancellationToken) =>
        _delays.TryGetValue(method, out var delay) ? Task.Delay(delay, cancellationToken) : Task.CompletedTask;

    private static SimObject Metrics(SimDatabase database) => database.Get("host_metrics", database.First("host").Text("metrics"));

    private static long UsedMemory(SimDatabase database) =>
        database.All("VM").Where(v => v.Text("power_state") is "Running" or "Paused").Sum(v => v.Long("memory_static_max"));

    private static void SetTotal(SimDatabase database, SimObject metrics, long total)
    {
        metrics["memory_total"] = total;
        metrics["memory_free"] = Math.Max(0, total - UsedMemory(database));
        database.Modified(metrics);
    }

    private sealed class Undo(Action undo) : IDisposable
    {
        private Action? _undo = undo;

        public void Dispose() => Interlocked.Exchange(ref _undo, null)?.Invoke();
    }
}
