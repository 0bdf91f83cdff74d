namespace Hypervisors.Conformance;

/// <summary>
/// What the contract promises for situations the kit cannot reach through the contract itself, set up through the
/// fixture's hooks (<see cref="FixtureHook"/>): a crashed instance, a call cancelled while the peer is still working
/// on it, a full host, a console longer than its buffer, and a driver disposed while watches run. A test whose hook
/// the fixture declares missing skips with the fixture's reason.
/// </summary>
public abstract class FaultTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    private static readonly InstanceOperation[] LegalFromCrashed = [.. PowerOperationsList().Where(o => PowerStateRules.IsAllowed(o, PowerState.Crashed))];

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_crashed_instance_is_reported_crashed_by_get_list_and_events()
    {
        Fixture.SkipUnlessHook(FixtureHook.CrashInstance);
        var (instance, recorder) = Capabilities.SupportsEvents
            ? await CreateRunningInstanceWatchedAsync()
            : (await CreateInstanceInStateAsync(PowerState.Running), null);
        await using var disposeInstance = instance;
        await using var disposeRecorder = recorder;
        await Fixture.CrashInstanceAsync(instance.Id, Ct);
        await WaitForStateAsync(instance.Id, PowerState.Crashed, "a crash");
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Crashed, "a crash", Ct);
        if (recorder is not null)
        {
            await recorder.ExpectAsync(InstanceEventKind.Crashed, PowerState.Crashed, "a crash", Fixture.EventTimeout, Ct);
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(InstanceOperation.Start)]
    [InlineData(InstanceOperation.Stop)]
    [InlineData(InstanceOperation.PowerOff)]
    [InlineData(InstanceOperation.HardReboot)]
    [InlineData(InstanceOperation.Delete)]
    public virtual async Task An_operation_allowed_from_crashed_takes_effect(InstanceOperation operation)
    {
        Fixture.SkipUnlessHook(FixtureHook.CrashInstance);
        Assert.True(operation == InstanceOperation.Delete || LegalFromCrashed.Contains(operation), $"{operation} is not allowed from Crashed.");
        await using var instance = await CreateCrashedInstanceAsync();
        await InvokeAsync(operation, instance.Id, Ct);
        if (operation == InstanceOperation.Delete)
        {
            await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(instance.Id, Ct), "GetInstanceAsync after deleting a crashed instance");
            Assert.DoesNotContain(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
            return;
        }

        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerStateRules.ResultOf(operation)!.Value, $"{operation} from Crashed", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Operations_not_allowed_from_crashed_throw_invalid_power_state_and_change_nothing()
    {
        Fixture.SkipUnlessHook(FixtureHook.CrashInstance);
        await using var instance = await CreateCrashedInstanceAsync();
        foreach (var operation in PowerOperations.Where(o => !PowerStateRules.IsAllowed(o, PowerState.Crashed) && Capabilities.Supports(o)))
        {
            await KitAssert.InvalidPowerStateAsync(() => InvokeAsync(operation, instance.Id, Ct), operation, PowerState.Crashed);
            await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Crashed, $"a refused {operation}", Ct);
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(InstanceOperation.Create)]
    [InlineData(InstanceOperation.Start)]
    [InlineData(InstanceOperation.Stop)]
    [InlineData(InstanceOperation.PowerOff)]
    [InlineData(InstanceOperation.Pause)]
    [InlineData(InstanceOperation.Delete)]
    public virtual async Task Cancelling_a_call_while_the_peer_works_on_it_leaves_a_consistent_state(InstanceOperation operation)
    {
        Fixture.SkipUnlessHook(FixtureHook.SlowOperation);
        if (operation == InstanceOperation.Pause)
        {
            RequireCapability(Capabilities.SupportsPause, nameof(DriverCapabilities.SupportsPause));
        }

        var from = operation switch
        {
            InstanceOperation.Stop or InstanceOperation.PowerOff or InstanceOperation.Pause => PowerState.Running,
            _ => PowerState.Shutdown,
        };
        var spec = NewSpec();
        await using var guard = CleanupGuard(spec);
        if (operation != InstanceOperation.Create)
        {
            await Driver.CreateInstanceAsync(spec, Ct);
            await BringToStateAsync(spec.Id, from);
        }

        var slow = await Fixture.SlowDownAsync(operation, Ct);
        if (slow is null)
        {
            Assert.Skip($"The fixture cannot slow down {operation}.");
        }

        Exception? outcome;
        await using (slow)
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var call = operation == InstanceOperation.Create ? Driver.CreateInstanceAsync(spec, cancel.Token) : InvokeAsync(operation, spec.Id, cancel.Token);
            await Task.WhenAny(call, Task.Delay(TimeSpan.FromMilliseconds(300), Ct));
            Assert.False(call.IsCompleted, $"{operation} finished before it was cancelled although the fixture slowed it down (status {call.Status}).");
            await cancel.CancelAsync();
            var finished = await Task.WhenAny(call, Task.Delay(Fixture.EventTimeout, Ct));
            Assert.True(finished == call, $"{operation} was still running {Fixture.EventTimeout} after its token was cancelled mid-call.");
            outcome = call.Exception?.InnerException;
            Assert.True(call.IsCanceled || outcome is OperationCanceledException,
                $"{operation} cancelled mid-call ended {call.Status} {outcome?.GetType().Name}: {outcome?.Message}; expected OperationCanceledException.");
        }

        // Consistent: the instance is either as before or as after, get and list agree, and the driver still works.
        var to = operation switch
        {
            InstanceOperation.Create => PowerState.Shutdown,
            InstanceOperation.Delete => PowerState.NoState,
            _ => PowerStateRules.ResultOf(operation)!.Value,
        };
        var before = operation == InstanceOperation.Create ? PowerState.NoState : from;
        var now = await CurrentStateAsync(spec.Id);
        Assert.True(now == before || now == to, $"After {operation} was cancelled mid-call the instance is {now}; expected {before} or {to}.");
        if (now == before)
        {
            if (operation == InstanceOperation.Create)
            {
                await Driver.CreateInstanceAsync(spec, Ct);
            }
            else
            {
                await InvokeAsync(operation, spec.Id, Ct);
            }
        }
        else if (operation == InstanceOperation.Create)
        {
            await Driver.CreateInstanceAsync(spec, Ct);
        }

        Assert.True(await CurrentStateAsync(spec.Id) == to, $"After a cancelled {operation}, doing it again did not reach {to}.");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Start_and_resume_on_a_full_host_throw_insufficient_resources_and_change_nothing()
    {
        Fixture.SkipUnlessHook(FixtureHook.FillHost);
        await using var stopped = await CreateInstanceAsync();
        await using var suspended = Capabilities.SupportsSuspend && Fixture.GuestsCooperate ? await CreateInstanceInStateAsync(PowerState.Suspended) : null;
        await using var paused = Capabilities.SupportsPause ? await CreateInstanceInStateAsync(PowerState.Paused) : null;
        var startNow = NewSpec(s => s with { StartAfterCreate = true });
        await using var startNowGuard = CleanupGuard(startNow);
        await using (await Fixture.FillHostAsync(Ct))
        {
            await KitAssert.ThrowsAsync<InsufficientResourcesException>(() => Driver.StartInstanceAsync(stopped.Id, Ct), "start on a full host");
            await KitAssert.PowerStateIsAsync(Driver, stopped.Id, PowerState.Shutdown, "a start refused on a full host", Ct);
            if (suspended is not null)
            {
                await KitAssert.ThrowsAsync<InsufficientResourcesException>(() => Driver.ResumeInstanceAsync(suspended.Id, Ct), "resume on a full host");
                await KitAssert.PowerStateIsAsync(Driver, suspended.Id, PowerState.Suspended, "a resume refused on a full host", Ct);
            }

            await KitAssert.ThrowsAsync<InsufficientResourcesException>(() => Driver.CreateInstanceAsync(startNow, Ct), "create with StartAfterCreate on a full host");
            await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(startNow.Id, Ct), "GetInstanceAsync after a create refused on a full host");

            if (paused is not null)
            {
                // A paused instance keeps its vCPUs and memory, so unpausing needs nothing new: on a host whose
                // accounting the fixture declares exclusive it must succeed; elsewhere a refusal must be the typed
                // error and change nothing.
                try
                {
                    await Driver.UnpauseInstanceAsync(paused.Id, Ct);
                    await KitAssert.PowerStateIsAsync(Driver, paused.Id, PowerState.Running, "unpausing on a full host", Ct);
                }
                catch (InsufficientResourcesException) when (!Fixture.HostResourcesAreExclusive)
                {
                    await KitAssert.PowerStateIsAsync(Driver, paused.Id, PowerState.Paused, "an unpause refused on a full host", Ct);
                }
            }
        }

        await Driver.StartInstanceAsync(stopped.Id, Ct);
        await KitAssert.PowerStateIsAsync(Driver, stopped.Id, PowerState.Running, "start once the host has room again", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Console_output_beyond_the_buffer_is_truncated_keeping_the_newest_text()
    {
        Fixture.SkipUnlessHook(FixtureHook.WriteConsole);
        RequireCapability(Capabilities.SupportsConsoleOutput, nameof(DriverCapabilities.SupportsConsoleOutput));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        var first = await Driver.GetConsoleOutputAsync(instance.Id, Ct);
        Assert.False(first.Truncated, $"A freshly started instance's console ({first.Text.Length} characters) is reported truncated.");

        var tag = instance.Id.ToString("N");
        var oldest = $"KIT-OLDEST-{tag}";
        var newest = $"KIT-NEWEST-{tag}";
        var line = new string('x', 99) + "\n";
        var text = new System.Text.StringBuilder().Append(oldest).Append('\n');
        while (text.Length < Fixture.ConsoleBufferCharacters * 2)
        {
            text.Append(line);
        }

        text.Append(newest).Append('\n');
        await Fixture.WriteConsoleAsync(instance.Id, text.ToString(), Ct);
        var deadline = DateTime.UtcNow + Fixture.EventTimeout;
        var output = await Driver.GetConsoleOutputAsync(instance.Id, Ct);
        while (!output.Text.Contains(newest, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Ct);
            output = await Driver.GetConsoleOutputAsync(instance.Id, Ct);
        }

        Assert.True(output.Text.Contains(newest, StringComparison.Ordinal), $"The newest console text is missing; the output ends with '{Tail(output.Text)}'.");
        Assert.True(output.Truncated, "Console output longer than the buffer is not reported Truncated.");
        Assert.False(output.Text.Contains(oldest, StringComparison.Ordinal), "The console output still holds the oldest text although the buffer overflowed.");
        Assert.True(output.Text.Length <= Fixture.ConsoleBufferCharacters,
            $"The console output holds {output.Text.Length} characters; the fixture declares a buffer of {Fixture.ConsoleBufferCharacters}.");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Disposing_a_driver_ends_every_watch_on_it()
    {
        Fixture.SkipUnlessHook(FixtureHook.OwnDriver);
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        var own = await Fixture.CreateOwnDriverAsync(Ct);
        var disposed = false;
        var spec = NewSpec();
        await using var guard = CleanupGuard(spec);
        try
        {
            var watches = Enumerable.Range(0, 2).Select(_ => own.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct)).ToList();
            var pending = watches.Select(w => w.MoveNextAsync().AsTask()).ToList();

            // The watches are live: both see a create made through the driver.
            await own.CreateInstanceAsync(spec, Ct);
            for (var i = 0; i < watches.Count; i++)
            {
                while (true)
                {
                    var moved = await pending[i].WaitAsync(Fixture.EventTimeout, Ct);
                    Assert.True(moved, $"Watch {i} ended before the driver was disposed.");
                    var current = watches[i].Current;
                    pending[i] = watches[i].MoveNextAsync().AsTask();
                    if (current.InstanceId == spec.Id)
                    {
                        break;
                    }
                }
            }

            await own.DeleteInstanceAsync(spec.Id, Ct);
            await own.DisposeAsync();
            disposed = true;
            for (var i = 0; i < watches.Count; i++)
            {
                var ended = await EndsAsync(watches[i], pending[i]);
                Assert.True(ended, $"Watch {i} was still going {Fixture.EventTimeout} after its driver was disposed.");
            }

            await KitAssert.ThrowsAsync<ObjectDisposedException>(() => own.GetHostInfoAsync(Ct), "GetHostInfoAsync on a disposed driver");
        }
        finally
        {
            if (!disposed)
            {
                await own.DisposeAsync();
            }
        }
    }

    /// <summary>Creates a running instance and crashes it through the fixture.</summary>
    protected async Task<KitInstance> CreateCrashedInstanceAsync()
    {
        var instance = await CreateInstanceInStateAsync(PowerState.Running);
        try
        {
            await Fixture.CrashInstanceAsync(instance.Id, Ct);
            await WaitForStateAsync(instance.Id, PowerState.Crashed, "a crash");
            return instance;
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    private static IEnumerable<InstanceOperation> PowerOperationsList() => PowerOperations;

    private async Task<PowerState> CurrentStateAsync(Guid id)
    {
        var listed = (await Driver.ListInstancesAsync(Ct)).Where(i => i.Id == id).ToList();
        Assert.True(listed.Count <= 1, $"Instance {id} is listed {listed.Count} times.");
        try
        {
            var got = await Driver.GetInstanceAsync(id, Ct);
            Assert.True(listed.Count == 1 && listed[0].PowerState == got.PowerState,
                $"Get reports {got.PowerState} but list {(listed.Count == 0 ? "does not show the instance" : "reports " + listed[0].PowerState)}.");
            return got.PowerState;
        }
        catch (InstanceNotFoundException)
        {
            Assert.True(listed.Count == 0, "Get does not find the instance but list shows it.");
            return PowerState.NoState;
        }
    }

    private async Task<bool> EndsAsync(IAsyncEnumerator<InstanceEvent> events, Task<bool> pending)
    {
        var deadline = Task.Delay(Fixture.EventTimeout, Ct);
        while (true)
        {
            if (await Task.WhenAny(pending, deadline) != pending)
            {
                return false;
            }

            try
            {
                if (!await pending)
                {
                    return true;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or HypervisorException)
            {
                return true;
            }

            pending = events.MoveNextAsync().AsTask();
        }
    }

    private static string Tail(string text) => text.Length <= 80 ? text : text[^80..];
}
