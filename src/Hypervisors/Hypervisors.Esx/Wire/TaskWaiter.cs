using System.Collections.Concurrent;
using System.Xml.Linq;

namespace Hypervisors.Esx.Wire;

/// <summary>
/// Awaits vSphere tasks through the PropertyCollector rather than by polling each task: a filter on the task's
/// <c>info.state</c>, <c>info.error</c> and <c>info.result</c>, then <c>WaitForUpdatesEx</c> until the state is
/// success or error; the filter is destroyed after the caller has its answer. Collectors come from a pool, each used
/// by one wait at a time and replaced after <see cref="WaitsPerCollector"/> waits, so a wait costs three calls, two
/// of them on the caller's path (govmomi's costs five: it also creates and destroys a collector each time).
/// </summary>
internal sealed class TaskWaiter(VimClient client) : IAsyncDisposable
{
    /// <summary>Waits served by one collector before it is destroyed (vcsim keeps every change of the inventory for each live collector, so long-lived ones weigh on it).</summary>
    public const int WaitsPerCollector = 16;

    private static readonly string[] TaskPaths = ["info.state", "info.error", "info.result"];
    private readonly ConcurrentBag<PooledCollector> _pool = [];
    private readonly HashSet<Task> _releases = [];

    /// <summary>How long one <c>WaitForUpdatesEx</c> may wait before it is asked again.</summary>
    public TimeSpan PollWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Waits for <paramref name="task"/>; returns its <c>info.result</c> element, or throws its fault.</summary>
    public async Task<XElement?> WaitAsync(ManagedObjectReference task, CancellationToken cancellationToken)
    {
        var values = await WaitForAsync(task, TaskPaths, v => v.GetValueOrDefault("info.state")?.Value is "success" or "error", null, cancellationToken).ConfigureAwait(false)
            ?? throw new VimFaultException("InvalidResponse", $"The wait for {task} ended without a state.");
        if (values.GetValueOrDefault("info.state")?.Value == "success")
        {
            return values.GetValueOrDefault("info.result");
        }

        throw values.GetValueOrDefault("info.error") is { } error
            ? VimFaultException.FromLocalizedFault(error)
            : new VimFaultException("MethodFault", $"{task} failed without an error.");
    }

    /// <summary>
    /// Waits until <paramref name="done"/> holds for the values of <paramref name="paths"/> of <paramref name="obj"/>
    /// and returns them, or returns null when <paramref name="timeout"/> passes first.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, XElement?>?> WaitForAsync(ManagedObjectReference obj, IReadOnlyList<string> paths,
        Func<IReadOnlyDictionary<string, XElement?>, bool> done, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(done);
        var deadline = timeout is { } t ? DateTimeOffset.UtcNow + t : (DateTimeOffset?)null;
        for (var attempt = 0; ; attempt++)
        {
            var collector = await RentAsync(cancellationToken).ConfigureAwait(false);
            ManagedObjectReference? filter = null;
            try
            {
                filter = await client.CreateFilterAsync(collector.Ref, w => PropertySpecs.ForObject(w, obj, paths), cancellationToken).ConfigureAwait(false);
                collector.Waits++;
                var values = await WaitOnFilterAsync(collector, filter.Value, obj, done, deadline, cancellationToken).ConfigureAwait(false);
                Release(collector, filter.Value);
                return values;
            }
            catch (VimFaultException fault) when (fault.FaultType == "ManagedObjectNotFound" && attempt == 0)
            {
                // The collector died with a lost session (or the object is gone): try once more on a new collector.
                Release(collector, filter, healthy: false);
            }
            catch
            {
                Release(collector, filter, healthy: false);
                throw;
            }
        }
    }

    /// <summary>Destroys the pooled collectors, after the filter clean-ups still running.</summary>
    public async ValueTask DisposeAsync()
    {
        Task[] pending;
        lock (_releases)
        {
            pending = [.. _releases];
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (_pool.TryTake(out var collector))
        {
            await DestroyQuietlyAsync(collector, cts.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Destroys the wait's filter and returns the collector to the pool, off the caller's path: the wait's result
    /// is known, and the clean-up need not delay it. (One filter per collector at a time: vcsim 0.24's
    /// DestroyPropertyCollector fails on a collector with several.)
    /// </summary>
    private void Release(PooledCollector collector, ManagedObjectReference? filter, bool healthy = true)
    {
        var release = ReleaseAsync(collector, filter, healthy);
        lock (_releases)
        {
            _releases.RemoveWhere(t => t.IsCompleted);
            if (!release.IsCompleted)
            {
                _releases.Add(release);
            }
        }
    }

    private async Task ReleaseAsync(PooledCollector collector, ManagedObjectReference? filter, bool healthy)
    {
        await Task.Yield();
        if (healthy && filter is { } f && collector.Generation == client.SessionGeneration)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await client.DestroyPropertyFilterAsync(f, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (VimClient.IsCallFailure(ex))
            {
                healthy = false;
            }
        }

        await ReturnAsync(collector, healthy).ConfigureAwait(false);
    }

    private async Task<IReadOnlyDictionary<string, XElement?>?> WaitOnFilterAsync(PooledCollector collector, ManagedObjectReference filter, ManagedObjectReference obj,
        Func<IReadOnlyDictionary<string, XElement?>, bool> done, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        string? version = null;
        var values = new Dictionary<string, XElement?>(StringComparer.Ordinal);
        while (true)
        {
            var wait = PollWait;
            if (deadline is { } end)
            {
                var remaining = end - DateTimeOffset.UtcNow;
                if (version is not null && remaining <= TimeSpan.Zero)
                {
                    return null;
                }

                wait = TimeSpan.FromSeconds(Math.Clamp(Math.Ceiling(remaining.TotalSeconds), 1, PollWait.TotalSeconds));
            }

            var set = await client.WaitForUpdatesAsync(collector.Ref, version, wait, cancellationToken).ConfigureAwait(false);
            if (set is null)
            {
                continue;
            }

            var first = version is null;
            version = set.Version;
            var seen = false;
            foreach (var update in set.Updates)
            {
                if (update.Filter == filter && update.Obj == obj)
                {
                    seen = true;
                    foreach (var (path, value) in update.Changes)
                    {
                        values[path] = value;
                    }
                }
            }

            if (first && !seen)
            {
                // The first answer holds every object of the filter; without ours, it does not exist (vcsim leaves
                // a missing object out instead of failing CreateFilter).
                throw new VimFaultException("ManagedObjectNotFound", $"{obj} does not exist.");
            }

            if (done(values))
            {
                return values;
            }
        }
    }

    private async Task<PooledCollector> RentAsync(CancellationToken cancellationToken)
    {
        var generation = client.SessionGeneration;
        while (_pool.TryTake(out var pooled))
        {
            if (pooled.Generation == generation)
            {
                return pooled;
            }
        }

        var created = await client.CreatePropertyCollectorAsync(cancellationToken).ConfigureAwait(false);
        return new PooledCollector(created, client.SessionGeneration);
    }

    private async Task ReturnAsync(PooledCollector collector, bool healthy)
    {
        if (collector.Generation != client.SessionGeneration)
        {
            return; // it went with its session
        }

        if (healthy && collector.Waits < WaitsPerCollector)
        {
            _pool.Add(collector);
            return;
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await DestroyQuietlyAsync(collector, cts.Token).ConfigureAwait(false);
    }

    private async Task DestroyQuietlyAsync(PooledCollector collector, CancellationToken cancellationToken)
    {
        try
        {
            await client.DestroyPropertyCollectorAsync(collector.Ref, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (VimClient.IsCallFailure(ex))
        {
            // The collector is garbage on the server side either way; its session will take it along.
        }
    }

    private sealed class PooledCollector(ManagedObjectReference reference, int generation)
    {
        public ManagedObjectReference Ref { get; } = reference;

        public int Generation { get; } = generation;

        public int Waits { get; set; }
    }
}
