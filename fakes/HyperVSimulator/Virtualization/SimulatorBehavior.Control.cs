using System.Collections.Concurrent;

namespace HyperVSimulator.Virtualization;

/// <summary>
/// Test controls beyond Hyper-V's WMI surface: hold the requests for one method (so a client can cancel a call while
/// it is in progress), reserve host memory (as other workloads would, so starts fail with 32778), and count the
/// WS-Man requests received by action (so a test can pin how many round trips a client needs).
/// </summary>
public sealed partial class SimulatorBehavior
{
    private readonly ConcurrentDictionary<string, TimeSpan> _holds = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _requestCounts = new(StringComparer.Ordinal);

    /// <summary>
    /// The authenticated WS-Man requests received since the last <see cref="ResetRequestCounts"/>, by the last segment
    /// of their action: <c>Enumerate</c>, <c>Pull</c>, <c>Get</c>, or the invoked method's name.
    /// </summary>
    public IReadOnlyDictionary<string, int> RequestCounts => new Dictionary<string, int>(_requestCounts, StringComparer.Ordinal);

    /// <summary>Starts counting requests from zero.</summary>
    public void ResetRequestCounts() => _requestCounts.Clear();

    /// <summary>Counts one request with <paramref name="action"/>.</summary>
    internal void CountRequest(string action)
    {
        var slash = action.LastIndexOf('/');
        _requestCounts.AddOrUpdate(slash >= 0 ? action[(slash + 1)..] : action, 1, (_, count) => count + 1);
    }
    private long _reservedMemoryMiB;

    /// <summary>Host memory taken by something other than the simulated VMs; starting a VM needs it free too.</summary>
    public long ReservedMemoryMiB
    {
        get => Interlocked.Read(ref _reservedMemoryMiB);
        set => Interlocked.Exchange(ref _reservedMemoryMiB, Math.Max(0, value));
    }

    /// <summary>
    /// Holds every WS-Man request whose action ends in <c>/</c><paramref name="method"/> (for example
    /// <c>RequestStateChange</c> or <c>DefineSystem</c>) for <paramref name="delay"/> before it is processed, until
    /// the returned handle is disposed. A request whose client goes away while it is held is never processed.
    /// </summary>
    public IDisposable Hold(string method, TimeSpan delay)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        _holds[method] = delay;
        return new Release(() => _holds.TryRemove(method, out _));
    }

    /// <summary>Waits out the hold set for the method <paramref name="action"/> invokes, if any.</summary>
    internal Task HoldAsync(string action, CancellationToken cancellationToken)
    {
        var slash = action.LastIndexOf('/');
        return slash >= 0 && _holds.TryGetValue(action[(slash + 1)..], out var delay) ? Task.Delay(delay, cancellationToken) : Task.CompletedTask;
    }

    private sealed class Release(Action release) : IDisposable
    {
        private Action? _release = release;

        public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
    }
}
