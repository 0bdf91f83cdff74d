using System.Collections.Concurrent;

namespace HyperVSimulator.Virtualization;

/// <summary>A failure to inject into the next job started by <see cref="Method"/>.</summary>
/// <param name="Method">The WMI method ("RequestStateChange", "DefineSystem", ...).</param>
/// <param name="ErrorCode">The job's ErrorCode (32768 Failed, 32778 Out of memory, ...).</param>
/// <param name="Description">The job's ErrorDescription.</param>
public sealed record InjectedJobFailure(string Method, ushort ErrorCode, string Description);

/// <summary>Knobs tests turn at run time: job duration, guest behaviour, injected failures.</summary>
public sealed partial class SimulatorBehavior
{
    private readonly ConcurrentQueue<InjectedJobFailure> _failures = new();
    private long _jobDurationTicks = TimeSpan.FromMilliseconds(20).Ticks;
    private long _shutdownDelayTicks = TimeSpan.FromMilliseconds(100).Ticks;
    private volatile bool _guestsHonorShutdown = true;

    /// <summary>How long each job stays Running before it completes; <see cref="Timeout.InfiniteTimeSpan"/> never completes.</summary>
    public TimeSpan JobDuration
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _jobDurationTicks));
        set => Interlocked.Exchange(ref _jobDurationTicks, value.Ticks);
    }

    /// <summary>How long a guest takes to shut down after InitiateShutdown.</summary>
    public TimeSpan GuestShutdownDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _shutdownDelayTicks));
        set => Interlocked.Exchange(ref _shutdownDelayTicks, value.Ticks);
    }

    /// <summary>Whether guests act on InitiateShutdown (false models a hung guest that ignores it).</summary>
    public bool GuestsHonorShutdown
    {
        get => _guestsHonorShutdown;
        set => _guestsHonorShutdown = value;
    }

    /// <summary>Makes the next job of <paramref name="failure"/>'s method fail with its code.</summary>
    public void FailNextJob(InjectedJobFailure failure) => _failures.Enqueue(failure);

    internal InjectedJobFailure? TakeFailure(string method)
    {
        // Only the head is examined, so failures fire in the order they were queued.
        if (_failures.TryPeek(out var head) && string.Equals(head.Method, method, StringComparison.OrdinalIgnoreCase) && _failures.TryDequeue(out var taken))
        {
            return taken;
        }

        return null;
    }
}
