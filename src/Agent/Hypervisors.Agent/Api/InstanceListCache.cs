using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using Hypervisors.Agent.Configuration;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Api;

/// <summary>
/// Counts changes per driver: every recorded lifecycle event and every finished operation bumps its driver's
/// version, so anything derived from a listing knows when it is out of date.
/// </summary>
internal sealed class DriverStateVersions
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _versions = new(StringComparer.Ordinal);

    public long Get(string driver) => Volatile.Read(ref Box(driver).Value);

    public void Bump(string driver) => Interlocked.Increment(ref Box(driver).Value);

    private StrongBox<long> Box(string driver) => _versions.GetOrAdd(driver, _ => new StrongBox<long>());

    internal sealed class StrongBox<T>
    {
        public T Value = default!;
    }
}

/// <summary>
/// The serialized instance list of each driver, reused while nothing changed (no event, no finished operation)
/// and for at most <see cref="AgentOptions.ListCacheTtl"/> (CPU times move on, and drivers without events change
/// out of band). Concurrent misses share one driver call. A TTL of zero turns it off.
/// </summary>
internal sealed class InstanceListCache(DriverStateVersions versions, IOptions<AgentOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Task<Entry>> _entries = new(StringComparer.Ordinal);

    public async Task<ReadOnlyMemory<byte>> GetAsync(string driverName, IHypervisorDriver driver, CancellationToken cancellationToken)
    {
        var ttl = options.Value.ListCacheTtl;
        if (ttl <= TimeSpan.Zero)
        {
            return (await LoadAsync(driver, 0, cancellationToken).ConfigureAwait(false)).Json;
        }

        while (true)
        {
            var pending = _entries.GetOrAdd(driverName, _ => LoadAsync(driver, versions.Get(driverName), CancellationToken.None));
            Entry entry;
            try
            {
                entry = await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // A failed load is not kept; the next caller tries again (and this one reports the error).
                _entries.TryRemove(KeyValuePair.Create(driverName, pending));
                throw;
            }

            if (entry.Version == versions.Get(driverName) && time.GetElapsedTime(entry.LoadedAt) < ttl)
            {
                return entry.Json;
            }

            _entries.TryRemove(KeyValuePair.Create(driverName, pending));
        }
    }

    private async Task<Entry> LoadAsync(IHypervisorDriver driver, long version, CancellationToken cancellationToken)
    {
        var loadedAt = time.GetTimestamp();
        var instances = await driver.ListInstancesAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new ArrayBufferWriter<byte>(Math.Max(1024, instances.Count * 256));
        InstanceListResult.Write(buffer, instances);
        return new Entry(buffer.WrittenMemory, version, loadedAt);
    }

    private sealed record Entry(ReadOnlyMemory<byte> Json, long Version, long LoadedAt);
}
