using System.Diagnostics;
using System.Globalization;
using Hypervisors.Uml.Mconsole;

namespace Hypervisors.Uml;

/// <summary>
/// One running <c>linux.uml</c> process: started by this driver (a child) or adopted after a driver restart (found
/// from its pid file). It is its own session and process-group leader (started through <c>setsid</c>), so a signal
/// to the driver's terminal does not reach it and a kill reaches every process of the guest. Watches the process's
/// exit and the kernel's notify socket; a reboot re-executes the kernel in the same process and announces the socket
/// again, which advances <see cref="BootCount"/>.
/// </summary>
internal sealed class UmlGuestProcess : IAsyncDisposable
{
    // Runs the kernel in a session of its own with stdin closed and the console appended to the log. User data only
    // ever travels as separate arguments ("$0" "$@") and in the environment, never inside the script.
    private const string LaunchScript = "exec setsid \"$0\" \"$@\" </dev/null >>\"$HYPERVISORS_UML_CONSOLE_LOG\" 2>&1";

    private readonly Process? _child;
    private readonly MconsoleNotificationListener _listener;
    private readonly TaskCompletionSource<int?> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _notificationLoop;
    private readonly Task _exitWatch;
    private readonly Lock _gate = new();
    private TaskCompletionSource _bootSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _bootCount;
    private int _disposed;

    private UmlGuestProcess(int pid, Process? child, MconsoleNotificationListener listener, string mconsolePath, TimeSpan mconsoleTimeout, TimeSpan pollInterval)
    {
        Pid = pid;
        _child = child;
        _listener = listener;
        Mconsole = new MconsoleClient(mconsolePath, mconsoleTimeout);
        _notificationLoop = Task.Run(ReadNotificationsAsync);
        _exitWatch = Task.Run(() => WatchExitAsync(pollInterval));
    }

    /// <summary>The kernel's process id (also its process group and session id).</summary>
    public int Pid { get; }

    /// <summary>Whether this driver started the process (so its exit code is known).</summary>
    public bool IsChild => _child is not null;

    /// <summary>The guest's management console.</summary>
    public MconsoleClient Mconsole { get; }

    /// <summary>Completes with the exit code (null for an adopted process) when the process has ended.</summary>
    public Task<int?> Exited => _exited.Task;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>How many times the kernel has announced its mconsole socket (boots, including reboots).</summary>
    public int BootCount => Volatile.Read(ref _bootCount);

    /// <summary>Whether the kernel reported a panic.</summary>
    public bool PanicReported { get; private set; }

    /// <summary>Set by the driver before it stops the guest on purpose, so the exit is not taken for a crash.</summary>
    public bool ExitExpected { get; set; }

    /// <summary>Set during a graceful stop: a guest that reboots instead of halting is halted when it comes back.</summary>
    public bool HaltOnNextBoot { get; set; }

    /// <summary>Called for each notification (after the boot count and panic flag are updated).</summary>
    public Action<UmlGuestProcess, MconsoleNotification>? NotificationReceived { get; init; }

    /// <summary>Starts <paramref name="kernel"/> with <paramref name="arguments"/>, its console appended to <paramref name="consoleLog"/>.</summary>
    public static UmlGuestProcess Start(string kernel, IReadOnlyList<string> arguments, string consoleLog, string notifySocket, string mconsolePath,
        TimeSpan mconsoleTimeout, TimeSpan pollInterval, Action<UmlGuestProcess, MconsoleNotification>? onNotification)
    {
        Hypervisors.Counting.FlowCallCounter.Record("process " + Path.GetFileName(kernel));
        var listener = new MconsoleNotificationListener(notifySocket);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(LaunchScript);
        start.ArgumentList.Add(kernel);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["HYPERVISORS_UML_CONSOLE_LOG"] = consoleLog;
        Process? process = null;
        try
        {
            process = Process.Start(start) ?? throw new UmlToolException($"Could not start {kernel}.", null);
            return new UmlGuestProcess(process.Id, process, listener, mconsolePath, mconsoleTimeout, pollInterval) { NotificationReceived = onNotification };
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process?.Dispose();
            listener.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new UmlToolException($"Could not start {kernel}: {ex.Message}", null, ex);
        }
    }

    /// <summary>
    /// Adopts the kernel whose pid file is <paramref name="pidFile"/> when that process is alive and is the kernel of
    /// <paramref name="umid"/> (its command line says <c>umid={umid}</c>, so a reused pid is not taken for it);
    /// otherwise returns null.
    /// </summary>
    public static UmlGuestProcess? TryAdopt(string pidFile, string umid, string notifySocket, string mconsolePath, TimeSpan mconsoleTimeout,
        TimeSpan pollInterval, Action<UmlGuestProcess, MconsoleNotification>? onNotification)
    {
        if (!File.Exists(pidFile)
            || !int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !IsKernelOf(pid, umid))
        {
            return null;
        }

        var listener = new MconsoleNotificationListener(notifySocket);
        return new UmlGuestProcess(pid, null, listener, mconsolePath, mconsoleTimeout, pollInterval) { NotificationReceived = onNotification };
    }

    /// <summary>Whether process <paramref name="pid"/> is alive and is the UML kernel started with <c>umid=<paramref name="umid"/></c>.</summary>
    public static bool IsKernelOf(int pid, string umid)
    {
        try
        {
            var commandLine = File.ReadAllBytes($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            var arguments = System.Text.Encoding.UTF8.GetString(commandLine).Split('\0');
            return arguments.Contains("umid=" + umid, StringComparer.Ordinal) && IsAlive(pid);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Waits until the kernel has announced its socket more than <paramref name="bootsSeen"/> times, or the process ends.</summary>
    /// <returns>True when it booted; false when the process ended first.</returns>
    public async Task<bool> WaitForBootAsync(int bootsSeen, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                Task signal;
                lock (_gate)
                {
                    if (_bootCount > bootsSeen)
                    {
                        return true;
                    }

                    signal = _bootSignal.Task;
                }

                if (HasExited)
                {
                    return false;
                }

                await Task.WhenAny(signal, Exited).WaitAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HypervisorTimeoutException($"The UML kernel (pid {Pid}) did not announce its mconsole socket within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the process to end; true when it has.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Exited.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Kills every process of the guest (its process group) at once.</summary>
    public void Kill()
    {
        if (HasExited)
        {
            return;
        }

        _ = NativeMethods.Kill(-Pid, NativeMethods.SigKill);
        _ = NativeMethods.Kill(Pid, NativeMethods.SigKill);
    }

    /// <summary>The kernel process's CPU time (user + system) so far, or zero when it cannot be read.</summary>
    public TimeSpan CpuTime()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

            // Fields 14 and 15 of proc(5) (utime, stime), counted from the state field (3).
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Stops watching (the process itself is left running).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        await _notificationLoop.ConfigureAwait(false);
        await _exitWatch.ConfigureAwait(false);
        _child?.Dispose();
        _stop.Dispose();
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var state = stat[stat.LastIndexOf(')') + 2];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private async Task ReadNotificationsAsync()
    {
        await foreach (var notification in _listener.Notifications.ReadAllAsync().ConfigureAwait(false))
        {
            if (notification.Type == MconsoleNotificationType.Socket)
            {
                lock (_gate)
                {
                    _bootCount++;
                    _bootSignal.TrySetResult();
                    _bootSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
            else if (notification.Type == MconsoleNotificationType.Panic)
            {
                PanicReported = true;
            }

            NotificationReceived?.Invoke(this, notification);
        }
    }

    private async Task WatchExitAsync(TimeSpan pollInterval)
    {
        try
        {
            if (_child is not null)
            {
                await _child.WaitForExitAsync(_stop.Token).ConfigureAwait(false);
                _exited.TrySetResult(_child.ExitCode);
                return;
            }

            // Not our child: no wait(2), so look at /proc until the process is gone.
            while (IsAlive(Pid))
            {
                await Task.Delay(pollInterval, _stop.Token).ConfigureAwait(false);
            }

            _exited.TrySetResult(null);
        }
        catch (OperationCanceledException)
        {
            // Watching stopped; the process may live on.
        }
    }
}
