namespace Hypervisors.Uml;

/// <summary>The driver's in-memory view of one instance: its record, its running kernel (if any) and its locks.</summary>
internal sealed class UmlInstance(Guid id, string directory, UmlInstanceRecord record)
{
    public Guid Id { get; } = id;

    /// <summary><c>instances/{id}</c>: record, console log, disks, notify socket.</summary>
    public string Directory { get; } = directory;

    /// <summary>Serializes record changes (operations and the exit watcher both change it).</summary>
    public SemaphoreSlim RecordGate { get; } = new(1, 1);

    public UmlInstanceRecord Record { get; set; } = record;

    /// <summary>The running kernel, or null when none runs (or it has exited).</summary>
    public UmlGuestProcess? Guest { get; set; }

    /// <summary>Set once the instance is deleted; a waiting operation then reports it not found.</summary>
    public bool Deleted { get; set; }

    /// <summary>Completes once the exit of the current (or last) kernel has been recorded and announced.</summary>
    public Task ExitHandled { get; set; } = Task.CompletedTask;

    public string ConsoleLog => Path.Combine(Directory, "console.log");

    public string NotifySocket => Path.Combine(Directory, "notify");

    public string EmptyHostfsRoot => Path.Combine(Directory, "hostfs-empty");

    public string SnapshotDirectory => Path.Combine(Directory, "snapshots");

    public bool IsRunning => Guest is { HasExited: false };

    public PowerState PowerState => IsRunning
        ? (Record.Paused ? PowerState.Paused : PowerState.Running)
        : (Record.Crashed ? PowerState.Crashed : PowerState.Shutdown);
}
