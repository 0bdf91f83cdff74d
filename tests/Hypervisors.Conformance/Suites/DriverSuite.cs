namespace Hypervisors.Conformance;

/// <summary>
/// The base of every kit suite: gives the suite its fixture (xunit injects one <typeparamref name="TFixture"/> per
/// concrete suite class) and the helpers the suites share. A driver's test project never subclasses this directly;
/// it subclasses each suite (<see cref="LifecycleTests{TFixture}"/> and the others).
/// </summary>
public abstract class DriverSuite<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : DriverFixture
{
    /// <summary>The states every driver can reach through the contract.</summary>
    private static readonly PowerState[] ReachableByStartStop = [PowerState.Shutdown, PowerState.Running];

    /// <summary>The fixture: the driver under test and specs that fit it.</summary>
    protected TFixture Fixture { get; } = fixture ?? throw new ArgumentNullException(nameof(fixture));

    /// <summary>The driver under test.</summary>
    protected IHypervisorDriver Driver => Fixture.Driver;

    /// <summary>The driver's declared capabilities.</summary>
    protected DriverCapabilities Capabilities => Driver.Capabilities;

    /// <summary>A vCPU count other than the default spec's: 2, or the fixture's <see cref="DriverFixture.MaxVCpus"/> when that is lower.</summary>
    protected int NonDefaultVCpus => Math.Min(2, Fixture.MaxVCpus ?? 2);

    /// <summary>The running test's cancellation token.</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A valid spec with a fresh id and name, adjusted by <paramref name="adjust"/>.</summary>
    protected InstanceSpec NewSpec(Func<InstanceSpec, InstanceSpec>? adjust = null)
    {
        var spec = Fixture.CreateSpec(Guid.NewGuid(), Fixture.NewName());
        return adjust is null ? spec : adjust(spec);
    }

    /// <summary>Creates an instance that is deleted when the returned handle is disposed.</summary>
    protected async Task<KitInstance> CreateInstanceAsync(Func<InstanceSpec, InstanceSpec>? adjust = null)
    {
        var spec = NewSpec(adjust);
        var created = await Driver.CreateInstanceAsync(spec, Ct);
        return new KitInstance(Driver, spec, created);
    }

    /// <summary>A handle that deletes the instance <paramref name="spec"/> would make, in case a refused create made it anyway.</summary>
    protected KitInstance CleanupGuard(InstanceSpec spec) =>
        new(Driver, spec, new InstanceInfo(spec.Id, spec.Name, PowerState.NoState, spec.VCpus, spec.MemoryMiB, TimeSpan.Zero));

    /// <summary>
    /// Creates an instance and brings it to <paramref name="state"/> through the contract's own operations
    /// (start, then pause or suspend), skipping the test when the driver cannot reach that state.
    /// </summary>
    protected async Task<KitInstance> CreateInstanceInStateAsync(PowerState state, Func<InstanceSpec, InstanceSpec>? adjust = null)
    {
        SkipUnlessReachable(state);
        var instance = await CreateInstanceAsync(adjust);
        try
        {
            if (state != PowerState.Shutdown)
            {
                await Driver.StartInstanceAsync(instance.Id, Ct);
            }

            if (state == PowerState.Paused)
            {
                await Driver.PauseInstanceAsync(instance.Id, Ct);
            }
            else if (state == PowerState.Suspended)
            {
                await Driver.SuspendInstanceAsync(instance.Id, Ct);
            }

            await KitAssert.PowerStateIsAsync(Driver, instance.Id, state, $"bringing a new instance to {state}", Ct);
            return instance;
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Subscribes to events first, then creates and starts an instance and waits for its Created and Started events,
    /// so whatever the recorder sees next is caused by the test (a driver whose watch lags still reports the
    /// instance's earlier life before it). Dispose both.
    /// </summary>
    protected async Task<(KitInstance Instance, EventRecorder Recorder)> CreateRunningInstanceWatchedAsync()
    {
        var recorder = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        try
        {
            var spec = NewSpec();
            recorder.Track(spec.Id);
            var instance = new KitInstance(Driver, spec, await Driver.CreateInstanceAsync(spec, Ct));
            try
            {
                await recorder.ExpectAsync(InstanceEventKind.Created, PowerState.Shutdown, "create", Fixture.EventTimeout, Ct);
                await Driver.StartInstanceAsync(spec.Id, Ct);
                await recorder.ExpectAsync(InstanceEventKind.Started, PowerState.Running, "start", Fixture.EventTimeout, Ct);
                return (instance, recorder);
            }
            catch
            {
                await instance.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await recorder.DisposeAsync();
            throw;
        }
    }

    /// <summary>Skips the test unless the driver can bring an instance to <paramref name="state"/>.</summary>
    protected void SkipUnlessReachable(PowerState state)
    {
        if (ReachableByStartStop.Contains(state))
        {
            return;
        }

        if (state == PowerState.Paused)
        {
            RequireCapability(Capabilities.SupportsPause, nameof(DriverCapabilities.SupportsPause));
        }
        else if (state == PowerState.Suspended)
        {
            RequireCapability(Capabilities.SupportsSuspend, nameof(DriverCapabilities.SupportsSuspend));
            RequireCooperatingGuests("suspend");
        }
        else
        {
            Assert.Skip($"The contract has no operation that reliably leaves an instance {state}.");
        }
    }

    /// <summary>Skips the test when the driver declares the capability false.</summary>
    protected static void RequireCapability(bool supported, string capability)
    {
        if (!supported)
        {
            Assert.Skip($"The driver declares {capability} = false.");
        }
    }

    /// <summary>Skips the test when the fixture's guests cannot do <paramref name="what"/> (<see cref="DriverFixture.GuestsCooperate"/>).</summary>
    protected void RequireCooperatingGuests(string what)
    {
        if (!Fixture.GuestsCooperate)
        {
            Assert.Skip($"The fixture's guests cannot cooperate, so {what} may be refused; GuestCooperationTests checks the refusal.");
        }
    }

    /// <summary>Whether <paramref name="operation"/> needs the guest's cooperation on some hypervisors.</summary>
    protected static bool NeedsGuest(InstanceOperation operation) => operation is InstanceOperation.SoftReboot or InstanceOperation.Suspend;

    /// <summary>Calls the power operation <paramref name="operation"/> on <paramref name="instanceId"/>.</summary>
    protected Task InvokeAsync(InstanceOperation operation, Guid instanceId, CancellationToken cancellationToken) => operation switch
    {
        InstanceOperation.Start => Driver.StartInstanceAsync(instanceId, cancellationToken),
        InstanceOperation.Stop => Driver.StopInstanceAsync(instanceId, Fixture.GracefulStopTimeout, cancellationToken),
        InstanceOperation.PowerOff => Driver.PowerOffInstanceAsync(instanceId, cancellationToken),
        InstanceOperation.SoftReboot => Driver.RebootInstanceAsync(instanceId, RebootKind.Soft, cancellationToken),
        InstanceOperation.HardReboot => Driver.RebootInstanceAsync(instanceId, RebootKind.Hard, cancellationToken),
        InstanceOperation.Pause => Driver.PauseInstanceAsync(instanceId, cancellationToken),
        InstanceOperation.Unpause => Driver.UnpauseInstanceAsync(instanceId, cancellationToken),
        InstanceOperation.Suspend => Driver.SuspendInstanceAsync(instanceId, cancellationToken),
        InstanceOperation.Resume => Driver.ResumeInstanceAsync(instanceId, cancellationToken),
        InstanceOperation.Delete => Driver.DeleteInstanceAsync(instanceId, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "Not a power operation."),
    };

    /// <summary>The operations that change power state.</summary>
    protected static IReadOnlyList<InstanceOperation> PowerOperations { get; } =
    [
        InstanceOperation.Start, InstanceOperation.Stop, InstanceOperation.PowerOff, InstanceOperation.SoftReboot,
        InstanceOperation.HardReboot, InstanceOperation.Pause, InstanceOperation.Unpause, InstanceOperation.Suspend,
        InstanceOperation.Resume,
    ];

    /// <summary>The capability flag that gates <paramref name="operation"/>, for messages.</summary>
    protected static string CapabilityOf(InstanceOperation operation) => operation switch
    {
        InstanceOperation.SoftReboot => nameof(DriverCapabilities.SupportsSoftReboot),
        InstanceOperation.Pause or InstanceOperation.Unpause => nameof(DriverCapabilities.SupportsPause),
        InstanceOperation.Suspend or InstanceOperation.Resume => nameof(DriverCapabilities.SupportsSuspend),
        InstanceOperation.GetConsoleOutput => nameof(DriverCapabilities.SupportsConsoleOutput),
        InstanceOperation.GetDevices => nameof(DriverCapabilities.SupportsDeviceListing),
        InstanceOperation.AttachVolume or InstanceOperation.DetachVolume => nameof(DriverCapabilities.SupportsVolumeAttach),
        InstanceOperation.AttachInterface or InstanceOperation.DetachInterface => nameof(DriverCapabilities.SupportsInterfaceAttach),
        InstanceOperation.CreateSnapshot or InstanceOperation.ListSnapshots or InstanceOperation.DeleteSnapshot => nameof(DriverCapabilities.SupportsSnapshots),
        InstanceOperation.WatchEvents => nameof(DriverCapabilities.SupportsEvents),
        _ => "a mandatory operation",
    };

    /// <summary>Brings an existing shut-down instance to <paramref name="state"/> through start, then pause or suspend.</summary>
    protected async Task BringToStateAsync(Guid instanceId, PowerState state)
    {
        SkipUnlessReachable(state);
        if (state == PowerState.Shutdown)
        {
            return;
        }

        await Driver.StartInstanceAsync(instanceId, Ct);
        if (state == PowerState.Paused)
        {
            await Driver.PauseInstanceAsync(instanceId, Ct);
        }
        else if (state == PowerState.Suspended)
        {
            await Driver.SuspendInstanceAsync(instanceId, Ct);
        }
    }

    /// <summary>
    /// Polls get until the instance reports <paramref name="state"/>, failing after <see cref="DriverFixture.EventTimeout"/>.
    /// </summary>
    protected async Task WaitForStateAsync(Guid instanceId, PowerState state, string after)
    {
        var deadline = DateTime.UtcNow + Fixture.EventTimeout;
        var last = PowerState.NoState;
        while (DateTime.UtcNow < deadline)
        {
            last = (await Driver.GetInstanceAsync(instanceId, Ct)).PowerState;
            if (last == state)
            {
                return;
            }

            await Task.Delay(50, Ct);
        }

        Assert.Fail($"After {after}, the instance was still {last} {Fixture.EventTimeout} later; expected {state}.");
    }

    /// <summary>Calls any operation that takes an instance id, with arguments that would be valid for an existing instance.</summary>
    protected async Task InvokeAnyAsync(InstanceOperation operation, Guid id, CancellationToken token)
    {
        switch (operation)
        {
            case InstanceOperation.GetInstance:
                await Driver.GetInstanceAsync(id, token);
                break;
            case InstanceOperation.GetConsoleOutput:
                await Driver.GetConsoleOutputAsync(id, token);
                break;
            case InstanceOperation.GetDevices:
                await Driver.GetDevicesAsync(id, token);
                break;
            case InstanceOperation.AttachVolume:
                await Driver.AttachVolumeAsync(id, Fixture.CreateVolumeSpec("kit-vol-any"), token);
                break;
            case InstanceOperation.DetachVolume:
                await Driver.DetachVolumeAsync(id, "kit-vol-any", token);
                break;
            case InstanceOperation.AttachInterface:
                await Driver.AttachInterfaceAsync(id, new NetworkInterfaceSpec(Fixture.NetworkName, NewMacAddress()), token);
                break;
            case InstanceOperation.DetachInterface:
                await Driver.DetachInterfaceAsync(id, NewMacAddress(), token);
                break;
            case InstanceOperation.CreateSnapshot:
                await Driver.CreateSnapshotAsync(id, "kit-snap-any", token);
                break;
            case InstanceOperation.ListSnapshots:
                await Driver.ListSnapshotsAsync(id, token);
                break;
            case InstanceOperation.DeleteSnapshot:
                await Driver.DeleteSnapshotAsync(id, "kit-snap-any", token);
                break;
            case InstanceOperation.WatchEvents:
                await using (var events = Driver.WatchEventsAsync(token).GetAsyncEnumerator(token))
                {
                    await events.MoveNextAsync();
                }

                break;
            default:
                await InvokeAsync(operation, id, token);
                break;
        }
    }

    /// <summary>A locally administered unicast MAC address, fresh for each call.</summary>
    protected static string NewMacAddress()
    {
        Span<byte> bytes = stackalloc byte[6];
        Random.Shared.NextBytes(bytes);
        bytes[0] = 0x02;
        return string.Join(':', bytes.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
