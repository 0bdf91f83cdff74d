namespace Hypervisors;

/// <summary>
/// What a watcher knows of each instance's power state, and the events that follow from a change: the one
/// implementation of "which event does this state change mean" and of the resynchronisation after a lost connection
/// (<see cref="Reconcile"/>). Thread-safe.
/// </summary>
/// <remarks>
/// A listing is a snapshot of the moment it was read, and live events may arrive while it is read. Take
/// <see cref="Mark"/> before reading the list and pass it to <see cref="Reconcile"/>: an instance observed live after
/// the mark keeps what the live observation said, so a listing read a moment earlier cannot undo a newer event.
/// </remarks>
public sealed class InstanceStateTracker
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, PowerState> _known = [];

    // Which observation last touched each instance (deleted ones included), counted by _version.
    private readonly Dictionary<Guid, long> _observedAt = [];
    private long _version;

    /// <summary>The instances known now, with their states.</summary>
    public IReadOnlyDictionary<Guid, PowerState> Snapshot()
    {
        lock (_gate)
        {
            return new Dictionary<Guid, PowerState>(_known);
        }
    }

    /// <summary>
    /// The event kind for an instance going from <paramref name="previous"/> (null: not known before) to
    /// <paramref name="current"/> (null: gone), or null when nothing happened worth an event.
    /// </summary>
    public static InstanceEventKind? KindOf(PowerState? previous, PowerState? current) => (previous, current) switch
    {
        (_, null) => previous is null ? null : InstanceEventKind.Deleted,
        (null, _) => InstanceEventKind.Created,
        var (before, now) when before == now => null,
        (PowerState.Paused, PowerState.Running) => InstanceEventKind.Resumed,
        (_, PowerState.Running) => InstanceEventKind.Started,
        (_, PowerState.Paused) => InstanceEventKind.Paused,
        (_, PowerState.Shutdown) => InstanceEventKind.Stopped,
        (_, PowerState.Suspended) => InstanceEventKind.Suspended,
        (_, PowerState.Crashed) => InstanceEventKind.Crashed,
        _ => null,
    };

    /// <summary>Records a state seen live (null: the instance is gone) and returns the event it means, if any.</summary>
    public InstanceEvent? Observe(Guid instanceId, PowerState? state, DateTimeOffset timestamp)
    {
        lock (_gate)
        {
            _observedAt[instanceId] = ++_version;
            return Apply(instanceId, state, timestamp);
        }
    }

    /// <summary>
    /// The point in the live observations reached now: take it before reading a listing and pass it to
    /// <see cref="Reconcile"/> as <c>listedAfter</c>.
    /// </summary>
    public long Mark()
    {
        lock (_gate)
        {
            return _version;
        }
    }

    /// <summary>Records a state without producing an event (the state a watcher starts from).</summary>
    public void Seed(Guid instanceId, PowerState state)
    {
        lock (_gate)
        {
            _known[instanceId] = state;
        }
    }

    /// <summary>
    /// Replaces what is known with <paramref name="current"/> (the hypervisor's full list after a reconnect) and
    /// returns one event per difference: Created for an instance not known before, Deleted for one no longer listed,
    /// and the event of the new state for one whose state changed; in a stable order (deletions, then the rest by id).
    /// With <paramref name="publishDifferences"/> false it only records (the first subscription). Instances observed live
    /// after <paramref name="listedAfter"/> (a <see cref="Mark"/> taken before the list was read) keep their live state:
    /// the listing is older than that observation, whether it lists them or not.
    /// </summary>
    public IReadOnlyList<InstanceEvent> Reconcile(IEnumerable<KeyValuePair<Guid, PowerState>> current, DateTimeOffset timestamp, bool publishDifferences = true, long listedAfter = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(current);
        var now = new Dictionary<Guid, PowerState>();
        foreach (var (id, state) in current)
        {
            now[id] = state;
        }

        var events = new List<InstanceEvent>();
        lock (_gate)
        {
            foreach (var (id, at) in _observedAt.ToList())
            {
                if (at > listedAfter)
                {
                    // Seen live after the listing was read: the live word stands.
                    now.Remove(id);
                    if (_known.TryGetValue(id, out var live))
                    {
                        now[id] = live;
                    }
                }
                else
                {
                    // The listing is newer than this observation; it needs no remembering any more.
                    _observedAt.Remove(id);
                }
            }

            foreach (var gone in _known.Keys.Where(id => !now.ContainsKey(id)).Order().ToList())
            {
                if (Apply(gone, null, timestamp) is { } deleted)
                {
                    events.Add(deleted);
                }
            }

            foreach (var (id, state) in now.OrderBy(p => p.Key))
            {
                if (Apply(id, state, timestamp) is { } changed)
                {
                    events.Add(changed);
                }
            }
        }

        return publishDifferences ? events : [];
    }

    private InstanceEvent? Apply(Guid instanceId, PowerState? state, DateTimeOffset timestamp)
    {
        PowerState? previous = _known.TryGetValue(instanceId, out var known) ? known : null;
        if (state is { } s)
        {
            _known[instanceId] = s;
        }
        else
        {
            _known.Remove(instanceId);
        }

        return KindOf(previous, state) is { } kind ? new InstanceEvent(instanceId, kind, state ?? PowerState.NoState, timestamp) : null;
    }
}
