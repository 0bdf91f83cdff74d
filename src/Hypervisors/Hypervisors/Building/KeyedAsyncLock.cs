namespace Hypervisors;

/// <summary>
/// Asynchronous mutual exclusion per key (an instance id, a name): callers holding different keys run in parallel,
/// callers sharing a key run one at a time, in arrival order. Entries exist only while a key is held or awaited, so
/// the lock does not grow with the number of keys ever used. <see cref="AcquireAsync(IEnumerable{TKey}, CancellationToken)"/>
/// takes several keys in one fixed order, so two callers can never wait on each other in a cycle.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
public sealed class KeyedAsyncLock<TKey>
    where TKey : notnull
{
    private readonly Dictionary<TKey, Entry> _entries;
    private readonly IComparer<TKey> _order;

    /// <summary>Creates the lock; <paramref name="comparer"/> decides which keys are the same (ordinal for strings is a good choice).</summary>
    /// <param name="comparer">Key equality; <see cref="EqualityComparer{T}.Default"/> when null.</param>
    /// <param name="order">The order several keys are taken in; <see cref="Comparer{T}.Default"/> when null.</param>
    public KeyedAsyncLock(IEqualityComparer<TKey>? comparer = null, IComparer<TKey>? order = null)
    {
        _entries = new Dictionary<TKey, Entry>(comparer);
        _order = order ?? Comparer<TKey>.Default;
    }

    /// <summary>The number of keys held or awaited now (for tests and diagnostics).</summary>
    public int ActiveKeys
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Waits until <paramref name="key"/> is free and takes it; disposing the result releases it.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting; nothing is held then.</exception>
    public async ValueTask<IDisposable> AcquireAsync(TKey key, CancellationToken cancellationToken = default)
    {
        var entry = await TakeAsync(key, cancellationToken).ConfigureAwait(false);
        return new Lease(this, [(key, entry)]);
    }

    /// <summary>
    /// Takes every key in <paramref name="keys"/> (duplicates once), in the lock's key order; disposing the result
    /// releases them all. Use it where an operation must exclude others on more than one key, such as a create that
    /// claims both an id and a name.
    /// </summary>
    public async ValueTask<IDisposable> AcquireAsync(IEnumerable<TKey> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var distinct = new List<TKey>();
        foreach (var key in keys)
        {
            if (!distinct.Exists(k => _entries.Comparer.Equals(k, key)))
            {
                distinct.Add(key);
            }
        }

        distinct.Sort(_order);
        var held = new List<(TKey Key, Entry Entry)>(distinct.Count);
        try
        {
            foreach (var key in distinct)
            {
                held.Add((key, await TakeAsync(key, cancellationToken).ConfigureAwait(false)));
            }
        }
        catch
        {
            Release(held);
            throw;
        }

        return new Lease(this, held);
    }

    private async ValueTask<Entry> TakeAsync(TKey key, CancellationToken cancellationToken)
    {
        var entry = Enter(key);
        try
        {
            await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Leave(key, entry);
            throw;
        }

        return entry;
    }

    private Entry Enter(TKey key)
    {
        lock (_entries)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                entry = new Entry();
                _entries[key] = entry;
            }

            entry.Users++;
            return entry;
        }
    }

    private void Leave(TKey key, Entry entry)
    {
        lock (_entries)
        {
            if (--entry.Users == 0)
            {
                _entries.Remove(key);
                entry.Gate.Dispose();
            }
        }
    }

    private void Release(List<(TKey Key, Entry Entry)> held)
    {
        for (var i = held.Count - 1; i >= 0; i--)
        {
            held[i].Entry.Gate.Release();
            Leave(held[i].Key, held[i].Entry);
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Lease(KeyedAsyncLock<TKey> owner, List<(TKey Key, Entry Entry)> held) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(held);
            }
        }
    }
}
