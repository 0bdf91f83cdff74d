namespace Hypervisors.Tests;

/// <summary>
/// A minimal driver on <see cref="HypervisorDriverBase"/> that records which core methods ran, holds one power
/// state per instance, and lets a test decide whether the guest honours a shutdown request.
/// </summary>
internal sealed class RecordingDriver(DriverCapabilities capabilities, TimeProvider? timeProvider = null) : HypervisorDriverBase(timeProvider)
{
    private readonly Dictionary<Guid, PowerState> _states = [];
    private readonly Lock _gate = new();

    public List<string> Calls { get; } = [];

    public int DisposeCount { get; private set; }

    public bool GuestHonoursShutdown { get; set; }

    /// <summary>Runs inside every state read, e.g. to let a fake clock jump as a slow hypervisor would.</summary>
    public Action? OnGetInstance { get; set; }

    public override DriverCapabilities Capabilities => capabilities;

    public Guid Add(PowerState state)
    {
        var id = Guid.NewGuid();
        lock (_gate)
        {
            _states[id] = state;
        }

        return id;
    }

    public void Set(Guid id, PowerState state)
    {
        lock (_gate)
        {
            _states[id] = state;
        }
    }

    protected override ValueTask DisposeAsyncCore()
    {
        DisposeCount++;
        return ValueTask.CompletedTask;
    }

    protected override Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken) => throw Record(nameof(GetHostInfoCoreAsync));

    protected override Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken)
    {
        Record(nameof(ListInstancesCoreAsync));
        return Task.FromResult<IReadOnlyList<InstanceInfo>>([]);
    }

    protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        Record(nameof(GetInstanceCoreAsync));
        OnGetInstance?.Invoke();
        lock (_gate)
        {
            return _states.TryGetValue(instanceId, out var state)
                ? Task.FromResult(new InstanceInfo(instanceId, "vm", state, 1, 64, TimeSpan.Zero))
                : Task.FromException<InstanceInfo>(new InstanceNotFoundException(instanceId));
        }
    }

    protected override Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        Record(nameof(CreateInstanceCoreAsync));
        Set(spec.Id, PowerState.Shutdown);
        return Task.FromResult(new InstanceInfo(spec.Id, spec.Name, PowerState.Shutdown, spec.VCpus, spec.MemoryMiB, TimeSpan.Zero));
    }

    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => Move(nameof(StartInstanceCoreAsync), instanceId, PowerState.Running);

    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => Move(nameof(PowerOffInstanceCoreAsync), instanceId, PowerState.Shutdown);

    protected override Task RequestShutdownCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        GuestHonoursShutdown ? Move(nameof(RequestShutdownCoreAsync), instanceId, PowerState.Shutdown) : Task.FromResult(Record(nameof(RequestShutdownCoreAsync)));

    protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) => Move(nameof(RebootInstanceCoreAsync) + kind, instanceId, PowerState.Running);

    protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => Move(nameof(DeleteInstanceCoreAsync), instanceId, PowerState.NoState);

    private Task Move(string call, Guid id, PowerState state)
    {
        Record(call);
        Set(id, state);
        return Task.CompletedTask;
    }

    private InvalidOperationException Record(string call)
    {
        lock (_gate)
        {
            Calls.Add(call);
        }

        return new InvalidOperationException(call + " is not simulated.");
    }
}
