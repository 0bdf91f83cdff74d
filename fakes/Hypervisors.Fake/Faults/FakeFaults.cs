namespace Hypervisors.Fake;

/// <summary>
/// Faults a <see cref="FakeHypervisorDriver"/> injects into its calls, settable while it runs: latency per
/// operation, a chosen <see cref="HypervisorException"/> once or on every call, and a dropped connection during
/// which every call throws <see cref="HypervisorUnavailableException"/>. Reach it through
/// <see cref="FakeHypervisorOptions.Faults"/> or <c>driver.GetService&lt;FakeFaults&gt;()</c>.
/// </summary>
public sealed class FakeFaults
{
    private readonly Lock _gate = new();
    private readonly Dictionary<InstanceOperation, TimeSpan> _latency = [];
    private readonly Dictionary<InstanceOperation, Failure> _failures = [];
    private bool _disconnected;

    /// <summary>Whether the simulated connection is down.</summary>
    public bool IsDisconnected
    {
        get
        {
            lock (_gate)
            {
                return _disconnected;
            }
        }
    }

    /// <summary>Delays every call of <paramref name="operation"/> by <paramref name="latency"/> (zero removes it).</summary>
    public FakeFaults SetLatency(InstanceOperation operation, TimeSpan latency)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(latency, TimeSpan.Zero);
        lock (_gate)
        {
            if (latency == TimeSpan.Zero)
            {
                _latency.Remove(operation);
            }
            else
            {
                _latency[operation] = latency;
            }
        }

        return this;
    }

    /// <summary>Delays every call of every operation by <paramref name="latency"/>.</summary>
    public FakeFaults SetLatency(TimeSpan latency)
    {
        foreach (var operation in Enum.GetValues<InstanceOperation>())
        {
            SetLatency(operation, latency);
        }

        return this;
    }

    /// <summary>Makes the next call of <paramref name="operation"/> throw the exception <paramref name="error"/> makes.</summary>
    public FakeFaults FailNext(InstanceOperation operation, Func<HypervisorException> error) => SetFailure(operation, error, once: true);

    /// <summary>Makes every call of <paramref name="operation"/> throw the exception <paramref name="error"/> makes, until cleared.</summary>
    public FakeFaults FailAlways(InstanceOperation operation, Func<HypervisorException> error) => SetFailure(operation, error, once: false);

    /// <summary>Removes the injected failure of <paramref name="operation"/>.</summary>
    public FakeFaults ClearFailure(InstanceOperation operation)
    {
        lock (_gate)
        {
            _failures.Remove(operation);
        }

        return this;
    }

    /// <summary>Drops the connection: every call throws <see cref="HypervisorUnavailableException"/> until <see cref="Reconnect"/>.</summary>
    public FakeFaults Disconnect()
    {
        lock (_gate)
        {
            _disconnected = true;
        }

        return this;
    }

    /// <summary>Restores the connection.</summary>
    public FakeFaults Reconnect()
    {
        lock (_gate)
        {
            _disconnected = false;
        }

        return this;
    }

    /// <summary>Removes every fault.</summary>
    public FakeFaults Reset()
    {
        lock (_gate)
        {
            _latency.Clear();
            _failures.Clear();
            _disconnected = false;
        }

        return this;
    }

    /// <summary>Applies the faults set for <paramref name="operation"/>: connection, latency, then an injected failure.</summary>
    internal async Task ApplyAsync(InstanceOperation operation, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisconnected(operation);
        TimeSpan latency;
        lock (_gate)
        {
            latency = _latency.GetValueOrDefault(operation);
        }

        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, timeProvider, cancellationToken).ConfigureAwait(false);
            ThrowIfDisconnected(operation);
        }

        Func<HypervisorException>? error = null;
        lock (_gate)
        {
            if (_failures.TryGetValue(operation, out var failure))
            {
                error = failure.Error;
                if (failure.Once)
                {
                    _failures.Remove(operation);
                }
            }
        }

        if (error is not null)
        {
            throw error();
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    internal void ThrowIfDisconnected(InstanceOperation operation)
    {
        if (IsDisconnected)
        {
            throw new HypervisorUnavailableException($"The fake hypervisor's connection is down ({operation}).") { NativeCode = "FAKE_DISCONNECTED" };
        }
    }

    private FakeFaults SetFailure(InstanceOperation operation, Func<HypervisorException> error, bool once)
    {
        ArgumentNullException.ThrowIfNull(error);
        lock (_gate)
        {
            _failures[operation] = new Failure(error, once);
        }

        return this;
    }

    private sealed record Failure(Func<HypervisorException> Error, bool Once);
}
