using System.Globalization;
using Hypervisors.Xen.Wire;

namespace XenApiSimulator.Model;

/// <summary>One entry of the event log: what <c>event.from</c> returns.</summary>
public sealed record SimEvent(long Id, string Class, string Operation, string Ref, Dictionary<string, object?> Snapshot, DateTime Time);

/// <summary>
/// The simulator's database: objects by reference, sessions and the event log. Every member must be used while
/// holding <see cref="Gate"/>, except <see cref="WaitForEventsAsync"/>.
/// </summary>
public sealed class SimDatabase
{
    /// <summary>How many events are kept; a token older than that gets EVENTS_LOST.</summary>
    public int EventLogCapacity { get; init; } = 50_000;

    private readonly Dictionary<string, SimObject> _objects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, SimObject>> _byClass = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _sessions = new(StringComparer.Ordinal);
    private readonly LinkedList<SimEvent> _events = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _generation;

    /// <summary>The lock for every read and write.</summary>
    public Lock Gate { get; } = new();

    /// <summary>The generation of the newest event.</summary>
    public long Generation => _generation;

    /// <summary>Sessions currently valid.</summary>
    public int SessionCount => _sessions.Count;

    /// <summary>The VMs whose guests have PV drivers installed (they report them whenever they run); see <see cref="SimGuests"/>.</summary>
    public HashSet<string> GuestsWithPvDrivers { get; } = new(StringComparer.Ordinal);

    /// <summary>The bytes of the VDIs (written by the <c>/import_raw_vdi</c> handler); the host disposes it.</summary>
    public SimDiskStore Disks { get; } = new();

    /// <summary>The time source for timestamps.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    public static string NewRef() => "OpaqueRef:" + Guid.NewGuid().ToString("D");

    public static string FormatToken(long generation) => generation.ToString("D20", CultureInfo.InvariantCulture);

    /// <summary>Adds an object (a uuid is made when the fields have none) and logs an "add" event.</summary>
    public SimObject Add(string xenClass, Dictionary<string, object?> fields, string? reference = null)
    {
        if (!fields.ContainsKey("uuid"))
        {
            fields["uuid"] = Guid.NewGuid().ToString("D");
        }

        var item = new SimObject(xenClass, reference ?? NewRef(), fields);
        _objects[item.Ref] = item;
        if (!_byClass.TryGetValue(xenClass, out var members))
        {
            _byClass[xenClass] = members = new Dictionary<string, SimObject>(StringComparer.Ordinal);
        }

        members[item.Ref] = item;
        Log(item, "add");
        return item;
    }

    /// <summary>Logs a "mod" event for an object whose fields were replaced.</summary>
    public void Modified(SimObject item) => Log(item, "mod");

    /// <summary>Removes an object and logs a "del" event.</summary>
    public void Remove(SimObject item)
    {
        _objects.Remove(item.Ref);
        if (_byClass.TryGetValue(item.Class, out var members))
        {
            members.Remove(item.Ref);
        }

        Log(item, "del");
    }

    /// <summary>The object of <paramref name="xenClass"/> with <paramref name="reference"/>, or HANDLE_INVALID.</summary>
    public SimObject Get(string xenClass, string? reference) =>
        reference is not null && _objects.TryGetValue(reference, out var item) && item.Class == xenClass
            ? item
            : throw new XenApiFailureException("HANDLE_INVALID", [xenClass, reference ?? string.Empty]);

    /// <summary>Whether <paramref name="reference"/> names an object of <paramref name="xenClass"/>.</summary>
    public bool Exists(string xenClass, string reference) => _objects.TryGetValue(reference, out var item) && item.Class == xenClass;

    /// <summary>Every object of a class.</summary>
    public IEnumerable<SimObject> All(string xenClass) =>
        _byClass.TryGetValue(xenClass, out var members) ? members.Values : [];

    /// <summary>The first object of a class.</summary>
    public SimObject First(string xenClass) => All(xenClass).First();

    public string OpenSession(string user)
    {
        var reference = NewRef();
        _sessions[reference] = user;
        return reference;
    }

    public bool IsSession(string? reference) => reference is not null && _sessions.ContainsKey(reference);

    public void CloseSession(string reference) => _sessions.Remove(reference);

    /// <summary>Invalidates every session (a test hook: xapi restarts and session expiry do the same).</summary>
    public void KillAllSessions() => _sessions.Clear();

    /// <summary>The events after <paramref name="token"/> of the given classes (null = all), or null when the log no longer reaches back that far.</summary>
    public List<SimEvent>? EventsAfter(long token, Func<SimEvent, bool> matches)
    {
        if (_events.First is { } oldest && oldest.Value.Id > token + 1)
        {
            return null;
        }

        var result = new List<SimEvent>();
        for (var node = _events.Last; node is not null && node.Value.Id > token; node = node.Previous)
        {
            if (matches(node.Value))
            {
                result.Add(node.Value);
            }
        }

        result.Reverse();
        return result;
    }

    /// <summary>Completes when an event newer than <paramref name="generation"/> is logged (call without the lock).</summary>
    public Task WaitForEventsAsync(long generation)
    {
        lock (Gate)
        {
            return _generation > generation ? Task.CompletedTask : _changed.Task;
        }
    }

    /// <summary>Logs an event for an object without changing it (event.inject).</summary>
    public long Inject(SimObject item)
    {
        Log(item, "mod");
        return _generation;
    }

    private void Log(SimObject item, string operation)
    {
        var entry = new SimEvent(++_generation, item.Class.ToLowerInvariant(), operation, item.Ref, item.Snapshot(), Clock.GetUtcNow().UtcDateTime);
        _events.AddLast(entry);
        if (_events.Count > EventLogCapacity)
        {
            _events.RemoveFirst();
        }

        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
