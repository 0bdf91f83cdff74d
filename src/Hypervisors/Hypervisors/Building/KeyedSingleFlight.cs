using System.Collections.Concurrent;

namespace Hypervisors;

/// <summary>
/// One shared run per key of work many callers may ask for at once (a download, a lookup, a copy into a share): the
/// first caller starts it, the others join it, and each waits with its own token, so a caller giving up does not stop
/// the run for the rest (the run itself should use a token of the component's lifetime). A failed or cancelled run is
/// never kept, so the next caller starts afresh. A successful result is kept while <c>keep</c> says so (until
/// <see cref="Forget"/> drops it); without <c>keep</c>, the entry goes as soon as the run ends.
/// </summary>
/// <typeparam name="TKey">What identifies the work.</typeparam>
/// <typeparam name="TValue">Its result.</typeparam>
public sealed class KeyedSingleFlight<TKey, TValue>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lazy<Task<TValue>>> _runs;
    private readonly Func<TValue, bool>? _keep;

    /// <summary>Creates the group.</summary>
    /// <param name="keep">Which successful results to keep for later callers; null keeps none.</param>
    /// <param name="comparer">Key equality; <see cref="EqualityComparer{T}.Default"/> when null.</param>
    public KeyedSingleFlight(Func<TValue, bool>? keep = null, IEqualityComparer<TKey>? comparer = null)
    {
        _runs = new ConcurrentDictionary<TKey, Lazy<Task<TValue>>>(comparer);
        _keep = keep;
    }

    /// <summary>
    /// The result of the run for <paramref name="key"/>: a kept one, the one in flight, or one
    /// <paramref name="run"/> starts now. <c>Started</c> tells whether this caller started it.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the run goes on for the others.</exception>
    public async Task<(TValue Value, bool Started)> RunAsync(TKey key, Func<TKey, Task<TValue>> run, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        Lazy<Task<TValue>>? mine = null;
        mine = new Lazy<Task<TValue>>(() => RunAndSettleAsync(key, run, mine!));

        // Lazy: GetOrAdd may call a factory more than once under a race; a Lazy's value is made once.
        var flight = _runs.GetOrAdd(key, mine);
        var value = await flight.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        return (value, ReferenceEquals(flight, mine));
    }

    /// <summary>Whether a run for <paramref name="key"/> is in flight or its result is kept.</summary>
    public bool Contains(TKey key) => _runs.ContainsKey(key);

    /// <summary>
    /// Drops the kept result of <paramref name="key"/> when <paramref name="stale"/> says it is stale (a reference the
    /// server no longer knows, a file removed since), so the next caller runs again. A run in flight is left alone.
    /// </summary>
    /// <returns>Whether a kept result was dropped.</returns>
    public bool Forget(TKey key, Func<TValue, bool> stale)
    {
        ArgumentNullException.ThrowIfNull(stale);
        return _runs.TryGetValue(key, out var flight) && flight.IsValueCreated && flight.Value.IsCompletedSuccessfully
            && stale(flight.Value.Result) && _runs.TryRemove(new KeyValuePair<TKey, Lazy<Task<TValue>>>(key, flight));
    }

    private async Task<TValue> RunAndSettleAsync(TKey key, Func<TKey, Task<TValue>> run, Lazy<Task<TValue>> self)
    {
        TValue value;
        try
        {
            value = await run(key).ConfigureAwait(false);
        }
        catch
        {
            _runs.TryRemove(new KeyValuePair<TKey, Lazy<Task<TValue>>>(key, self));
            throw;
        }

        if (_keep is null || !_keep(value))
        {
            _runs.TryRemove(new KeyValuePair<TKey, Lazy<Task<TValue>>>(key, self));
        }

        return value;
    }
}
