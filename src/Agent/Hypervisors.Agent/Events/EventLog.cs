using System.Threading.Channels;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Journal;

namespace Hypervisors.Agent.Events;

/// <summary>
/// Records lifecycle events in the journal (so a stream can resume from any retained event id), keeps each
/// instance's last known power state, and fans new events out to live streams.
/// </summary>
internal sealed class EventLog
{
    private readonly Lock _gate = new();
    private readonly OperationJournal _journal;
    private readonly TimeProvider _time;
    private readonly Dictionary<(string Driver, Guid InstanceId), (PowerState State, long Seq)> _known = [];
    private readonly List<Channel<AgentEvent>> _subscribers = [];
    private long _lastSeq;

    private readonly Api.DriverStateVersions _versions;

    public EventLog(OperationJournal journal, Api.DriverStateVersions versions, TimeProvider time)
    {
        _journal = journal;
        _versions = versions;
        _time = time;
        foreach (var (driver, instanceId, state) in journal.LoadStates())
        {
            _known[(driver, instanceId)] = (state, 0);
        }

        _lastSeq = journal.LastEventSeq();
    }

    /// <summary>The id of the newest event recorded by this process.</summary>
    public long LastSeq
    {
        get
        {
            lock (_gate)
            {
                return _lastSeq;
            }
        }
    }

    /// <summary>The number of live streams.</summary>
    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Journals an event (committed before this completes), then publishes it and updates the instance's last known state.</summary>
    public async Task<AgentEvent> RecordAsync(string driver, Guid instanceId, InstanceEventKind kind, PowerState state, string source, DateTimeOffset? at = null)
    {
        var timestamp = at ?? _time.GetUtcNow();
        AgentEvent? recorded = null;
        await _journal.AppendEventAsync(driver, instanceId, kind, state, source, timestamp, seq =>
        {
            // Runs on the journal's writer in event id order, so subscribers see ids increasing.
            _versions.Bump(driver);
            lock (_gate)
            {
                _lastSeq = seq;
                if (kind == InstanceEventKind.Deleted)
                {
                    _known.Remove((driver, instanceId));
                }
                else
                {
                    _known[(driver, instanceId)] = (state, seq);
                }

                recorded = new AgentEvent(seq, driver, instanceId, kind, state, timestamp, source);
                foreach (var subscriber in _subscribers)
                {
                    if (!subscriber.Writer.TryWrite(recorded))
                    {
                        // Full: the reader fell too far behind. Completing the channel ends its stream after what it holds.
                        subscriber.Writer.TryComplete(new EventStreamOverflowException());
                    }
                }
            }
        }).ConfigureAwait(false);
        return recorded!;
    }

    /// <summary>The last known states of <paramref name="driver"/>'s instances, with the id of the event that set each.</summary>
    public Dictionary<Guid, (PowerState State, long Seq)> KnownStates(string driver)
    {
        lock (_gate)
        {
            return _known.Where(pair => pair.Key.Driver == driver).ToDictionary(pair => pair.Key.InstanceId, pair => pair.Value);
        }
    }

    /// <summary>Whether the instance is known, and its last known state.</summary>
    public bool TryGetKnownState(string driver, Guid instanceId, out PowerState state)
    {
        lock (_gate)
        {
            var found = _known.TryGetValue((driver, instanceId), out var entry);
            state = entry.State;
            return found;
        }
    }

    /// <summary>
    /// Yields events after <paramref name="afterSeq"/> from the journal (when given), then live events, without
    /// gaps or repeats: the live subscription starts before the replay.
    /// </summary>
    /// <remarks>
    /// At most <paramref name="buffer"/> live events wait for a slow reader; one more and the stream ends with
    /// <see cref="EventStreamOverflowException"/> after the buffered ones, so memory stays bounded and the reader
    /// learns it must resume (from the journal) after the last event it got.
    /// </remarks>
    public async IAsyncEnumerable<AgentEvent> StreamAsync(long? afterSeq, int buffer, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<AgentEvent>(new BoundedChannelOptions(buffer) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        long lastSent;
        lock (_gate)
        {
            _subscribers.Add(channel);
            lastSent = afterSeq ?? _lastSeq;
        }

        try
        {
            if (afterSeq is not null)
            {
                while (true)
                {
                    var page = _journal.EventsAfter(lastSent, 500);
                    foreach (var replayed in page)
                    {
                        lastSent = replayed.Id;
                        yield return replayed;
                    }

                    if (page.Count < 500)
                    {
                        break;
                    }
                }
            }

            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var live))
                {
                    if (live.Id > lastSent)
                    {
                        lastSent = live.Id;
                        yield return live;
                    }
                }
            }

            // WaitToReadAsync returned false: the channel was completed, only ever by an overflow.
            await channel.Reader.Completion.ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _subscribers.Remove(channel);
            }
        }
    }

    /// <summary>Maps a power state to the event that reports reaching it.</summary>
    public static InstanceEventKind EventFor(PowerState state) => state switch
    {
        PowerState.Running => InstanceEventKind.Started,
        PowerState.Paused => InstanceEventKind.Paused,
        PowerState.Suspended => InstanceEventKind.Suspended,
        PowerState.Crashed => InstanceEventKind.Crashed,
        _ => InstanceEventKind.Stopped,
    };
}

/// <summary>An event stream's reader fell more than its buffer behind; it should resume from its last event id.</summary>
internal sealed class EventStreamOverflowException() : Exception("The event stream's reader fell too far behind.");
