using System.Runtime.CompilerServices;

namespace Hypervisors.Tests;

public sealed class ErrorMappingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_wire_exception_thrown_asynchronously_is_mapped_once_with_operation_and_instance()
    {
        await using var driver = new WireDriver { Failure = new WireException("NO_SUCH_VM") };
        var id = Guid.NewGuid();
        var ex = await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.StartInstanceAsync(id, Ct));
        Assert.Equal(id, ex.InstanceId);
        Assert.Equal(InstanceOperation.Start, ex.Operation);
        Assert.Equal("NO_SUCH_VM", ex.NativeCode);
        Assert.IsType<WireException>(ex.InnerException);
        Assert.Equal([new OperationContext(InstanceOperation.Start, id)], driver.Mapped);
    }

    [Fact]
    public async Task A_wire_exception_thrown_synchronously_is_mapped_too()
    {
        await using var driver = new WireDriver { Failure = new WireException("BUSY"), ThrowSynchronously = true };
        var id = Guid.NewGuid();
        var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.PauseInstanceAsync(id, Ct));
        Assert.Equal(InstanceOperation.Pause, ex.Operation);
        Assert.Equal(id, ex.InstanceId);
    }

    [Fact]
    public async Task Device_operations_hand_the_device_to_the_mapper()
    {
        await using var driver = new WireDriver { Failure = new WireException("NO_SUCH_DEVICE") };
        var id = Guid.NewGuid();
        var ex = await Assert.ThrowsAsync<DeviceNotFoundException>(() => driver.DetachInterfaceAsync(id, "02:AA:bb:cc:dd:ee", Ct));
        Assert.Equal("interface", ex.DeviceKind);
        Assert.Equal("02:aa:bb:cc:dd:ee", ex.DeviceId);
        Assert.Equal(id, ex.InstanceId);
        Assert.Equal(InstanceOperation.DetachInterface, ex.Operation);
    }

    [Fact]
    public async Task A_contract_error_without_context_gets_the_calls_operation_and_instance_and_keeps_its_own()
    {
        await using var driver = new WireDriver { Failure = new HypervisorTimeoutException("slow") };
        var id = Guid.NewGuid();
        var ex = await Assert.ThrowsAsync<HypervisorTimeoutException>(() => driver.ResumeInstanceAsync(id, Ct));
        Assert.Equal(id, ex.InstanceId);
        Assert.Equal(InstanceOperation.Resume, ex.Operation);
        Assert.Empty(driver.Mapped); // contract errors are not mapped again

        var other = Guid.NewGuid();
        driver.Failure = new HypervisorException(HypervisorErrorKind.Unknown, "x") { InstanceId = other, Operation = InstanceOperation.GetInstance };
        var kept = await Assert.ThrowsAsync<HypervisorException>(() => driver.ResumeInstanceAsync(id, Ct));
        Assert.Equal(other, kept.InstanceId);
        Assert.Equal(InstanceOperation.GetInstance, kept.Operation);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_mapped()
    {
        await using var driver = new WireDriver { WaitForCancellation = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var call = driver.ResumeInstanceAsync(Guid.NewGuid(), cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Empty(driver.Mapped);
    }

    [Fact]
    public async Task An_exception_the_mapper_does_not_know_passes_unchanged()
    {
        await using var driver = new WireDriver { Failure = new InvalidOperationException("a bug") };
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => driver.ResumeInstanceAsync(Guid.NewGuid(), Ct));
        Assert.Equal("a bug", ex.Message);
    }

    [Fact]
    public async Task A_failure_inside_an_event_stream_is_mapped()
    {
        await using var driver = new WireDriver { Failure = new WireException("BUSY") };
        var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(async () =>
        {
            await foreach (var _ in driver.WatchEventsAsync(Ct))
            {
            }
        });
        Assert.Equal(InstanceOperation.WatchEvents, ex.Operation);
        Assert.Null(ex.InstanceId);
    }

    [Fact]
    public void Not_found_errors_always_carry_the_instance_id()
    {
        var id = Guid.NewGuid();
        Assert.Equal(id, new InstanceNotFoundException(id).InstanceId);
        Assert.Equal(id, new DeviceNotFoundException(id, "volume", "v1").InstanceId);
        Assert.Equal(InstanceOperation.Pause, new InvalidPowerStateException(id, InstanceOperation.Pause, PowerState.Shutdown).Operation);
        Assert.Equal(InstanceOperation.Pause, new OperationNotSupportedException("T", InstanceOperation.Pause).Operation);
    }

    private sealed class WireException(string code) : Exception("wire failure " + code)
    {
        public string Code { get; } = code;
    }

    /// <summary>A driver whose calls fail with <see cref="Failure"/> and whose one mapping place records what it saw.</summary>
    private sealed class WireDriver : HypervisorDriverBase
    {
        public Exception? Failure { get; set; }

        public bool ThrowSynchronously { get; init; }

        public bool WaitForCancellation { get; init; }

        public List<OperationContext> Mapped { get; } = [];

        public override DriverCapabilities Capabilities { get; } = new()
        {
            HypervisorType = "Wire", SupportsPause = true, SupportsSuspend = true, SupportsInterfaceAttach = true, SupportsEvents = true,
        };

        protected override Exception MapException(Exception exception, OperationContext context)
        {
            Mapped.Add(context);
            return exception is WireException wire
                ? wire.Code switch
                {
                    "NO_SUCH_VM" when context.InstanceId is { } id => new InstanceNotFoundException(id, wire) { NativeCode = wire.Code },
                    "NO_SUCH_DEVICE" when context.InstanceId is { } id => new DeviceNotFoundException(id, context.DeviceKind!, context.DeviceId!, wire),
                    _ => new HypervisorUnavailableException("busy", wire),
                }
                : exception;
        }

        protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
            ThrowSynchronously ? throw Failure! : Fail();

        protected override async Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
        {
            if (WaitForCancellation)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            await Fail();
        }

        protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => Fail();

        protected override Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken) => Fail();

        protected override async IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Failure is not null)
            {
                throw Failure;
            }

            yield break;
        }

        protected override Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();

        private async Task Fail()
        {
            await Task.Yield();
            throw Failure!;
        }
    }
}
