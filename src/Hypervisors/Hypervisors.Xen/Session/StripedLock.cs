namespace Hypervisors.Xen.Session;

/// <summary>
/// A fixed set of async locks chosen by key hash. <see cref="AcquireAsync"/> takes the stripes of several keys in
/// ascending order, so two callers can never wait on each other in a cycle. Creates with different ids and names
/// run in parallel; creates sharing an id or a name are serialised.
/// </summary>
internal sealed class StripedLock : IDisposable
{
    private readonly SemaphoreSlim[] _stripes;

    public StripedLock(int stripes = 64)
    {
        _stripes = new SemaphoreSlim[stripes];
        for (var i = 0; i < stripes; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>Takes the stripes of <paramref name="keys"/>; dispose the result to release them.</summary>
    public async Task<IDisposable> AcquireAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var indices = keys.Select(k => (int)((uint)StringComparer.Ordinal.GetHashCode(k) % (uint)_stripes.Length)).Distinct().Order().ToArray();
        var taken = 0;
        try
        {
            for (; taken < indices.Length; taken++)
            {
                await _stripes[indices[taken]].WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            Release(indices, taken);
            throw;
        }

        return new Releaser(this, indices);
    }

    public void Dispose()
    {
        foreach (var stripe in _stripes)
        {
            stripe.Dispose();
        }
    }

    private void Release(int[] indices, int count)
    {
        for (var i = count - 1; i >= 0; i--)
        {
            _stripes[indices[i]].Release();
        }
    }

    private sealed class Releaser(StripedLock owner, int[] indices) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(indices, indices.Length);
            }
        }
    }
}
