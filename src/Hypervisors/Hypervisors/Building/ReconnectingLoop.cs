using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors;

/// <summary>How a <see cref="ReconnectingLoop"/> waits between reconnect attempts: doubling from
/// <see cref="InitialDelay"/> up to <see cref="MaxDelay"/>, each wait varied by up to a fifth so that many clients of
/// one restarted hypervisor do not reconnect in step.</summary>
public sealed record ReconnectPolicy
{
    /// <summary>The default: 200 ms doubling up to 5 s.</summary>
    public static ReconnectPolicy Default { get; } = new();

    /// <summary>The wait before the first attempt after a loss.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between attempts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait before attempt <paramref name="attempt"/> (0 for the first), jitter included.</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        var ticks = Math.Min(MaxDelay.Ticks, InitialDelay.Ticks * (1L << Math.Min(attempt, 20)));
        var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
        return TimeSpan.FromTicks((long)(ticks * jitter));
    }
}

/// <summary>
/// The one background loop of the drivers' event pumps and watchers, with the same reconnect and resubscribe
/// behaviour everywhere. The owner supplies two steps: <c>connect</c> (open or reuse the connection, subscribe, and
/// when <c>afterLoss</c> is true, resynchronise: compare what it knew with the hypervisor's current state and publish
/// the differences, for example through <see cref="InstanceStateTracker"/>) and <c>run</c> (receive and publish until
/// the connection fails). When <c>run</c> throws or returns, the loop waits by <see cref="ReconnectPolicy"/> and calls
/// <c>connect</c> with <c>afterLoss</c> true until it succeeds, then runs again. It stops only when disposed.
/// </summary>
/// <remarks>
/// Logging: event 100 (warning) when the connection is lost, 101 (information) when it is back, 102 (warning) for a
/// failed reconnect attempt, 103 (error) when a step fails with an exception that is not a connection failure (the loop
/// still retries). The loop name is in every message.
/// </remarks>
public sealed partial class ReconnectingLoop : IAsyncDisposable
{
    private readonly string _name;
    private readonly Func<bool, CancellationToken, Task> _connect;
    private readonly Func<CancellationToken, Task> _run;
    private readonly ReconnectPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _reconnects;
    private int _disposed;

    /// <summary>Creates the loop; nothing runs until <see cref="StartAsync"/> or <see cref="Start"/>.</summary>
    /// <param name="name">What the loop watches, for log messages ("libvirt lifecycle events for qemu:///system").</param>
    /// <param name="connect">Connects and subscribes; with <c>true</c>, after a loss, also resynchronises.</param>
    /// <param name="run">Receives until the connection fails (throws) or ends (returns).</param>
    /// <param name="policy">Waits between attempts; <see cref="ReconnectPolicy.Default"/> when null.</param>
    /// <param name="timeProvider">The clock for the waits; the system clock when null.</param>
    /// <param name="logger">Where the loop logs; nowhere when null.</param>
    public ReconnectingLoop(string name, Func<bool, CancellationToken, Task> connect, Func<CancellationToken, Task> run,
        ReconnectPolicy? policy = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(connect);
        ArgumentNullException.ThrowIfNull(run);
        _name = name;
        _connect = connect;
        _run = run;
        _policy = policy ?? ReconnectPolicy.Default;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>How many times the loop has reconnected after a loss.</summary>
    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>
    /// Connects once on the caller's flow (so a bad endpoint fails the caller's call, and the subscription exists when
    /// this returns), then runs in the background.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _connect(false, cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => LoopAsync(connected: true, _stop.Token), CancellationToken.None);
    }

    /// <summary>Connects and runs in the background; a failed first connect is retried like a lost connection.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _loop = Task.Run(() => LoopAsync(connected: false, _stop.Token), CancellationToken.None);
    }

    /// <summary>Stops the loop and waits for the step in progress to notice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is { } loop)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped mid-step.
            }
        }

        _stop.Dispose();
    }

    private async Task LoopAsync(bool connected, CancellationToken stop)
    {
        var afterLoss = false;
        while (!stop.IsCancellationRequested)
        {
            if (!connected)
            {
                connected = await ReconnectAsync(afterLoss, stop).ConfigureAwait(false);
                if (!connected)
                {
                    return; // stopped
                }
            }

            try
            {
                await _run(stop).ConfigureAwait(false);
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                LogConnectionLost(_logger, _name, "the stream ended", null);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return; // stopping: whatever the step threw is the owner closing its connection
            }
            catch (Exception ex)
            {
                LogFailure(ex);
            }

            connected = false;
            afterLoss = true;
        }
    }

    private async Task<bool> ReconnectAsync(bool afterLoss, CancellationToken stop)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (afterLoss || attempt > 0)
                {
                    await Task.Delay(_policy.DelayBefore(attempt), _time, stop).ConfigureAwait(false);
                }

                await _connect(afterLoss, stop).ConfigureAwait(false);
                if (afterLoss)
                {
                    Interlocked.Increment(ref _reconnects);
                    LogReconnected(_logger, _name, attempt + 1);
                }

                return true;
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception ex) when (IsConnectionFailure(ex))
            {
                LogReconnectFailed(_logger, _name, attempt + 1, ex);
            }
            catch (Exception ex)
            {
                LogUnexpectedFailure(_logger, _name, ex);
            }
        }
    }

    private void LogFailure(Exception ex)
    {
        if (IsConnectionFailure(ex))
        {
            LogConnectionLost(_logger, _name, ex.Message, ex);
        }
        else
        {
            LogUnexpectedFailure(_logger, _name, ex);
        }
    }

    private static bool IsConnectionFailure(Exception ex) =>
        ex is HypervisorException or IOException or TimeoutException or OperationCanceledException or System.Net.Http.HttpRequestException
            or System.Net.Sockets.SocketException;

    [LoggerMessage(EventId = 100, EventName = "LoopConnectionLost", Level = LogLevel.Warning, Message = "{Loop}: connection lost ({Reason}); reconnecting")]
    private static partial void LogConnectionLost(ILogger logger, string loop, string reason, Exception? exception);

    [LoggerMessage(EventId = 101, EventName = "LoopReconnected", Level = LogLevel.Information, Message = "{Loop}: reconnected and resubscribed after {Attempts} attempt(s)")]
    private static partial void LogReconnected(ILogger logger, string loop, int attempts);

    [LoggerMessage(EventId = 102, EventName = "LoopReconnectFailed", Level = LogLevel.Warning, Message = "{Loop}: reconnect attempt {Attempt} failed; trying again")]
    private static partial void LogReconnectFailed(ILogger logger, string loop, int attempt, Exception exception);

    [LoggerMessage(EventId = 103, EventName = "LoopFailed", Level = LogLevel.Error, Message = "{Loop}: a step failed unexpectedly; retrying")]
    private static partial void LogUnexpectedFailure(ILogger logger, string loop, Exception exception);
}
