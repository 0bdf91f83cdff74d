using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace Hypervisors.Fakes;

/// <summary>
/// How a simulator process stops: SIGTERM (systemd, docker stop), SIGINT (Ctrl+C) and SIGQUIT end
/// <see cref="WaitAsync"/>, after which Program.cs disposes the server and returns 0. Source shared by the
/// simulators (linked into each project from fakes/Shared).
/// </summary>
internal sealed class SimulatorSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration[] _registrations;

    public SimulatorSignals() =>
        _registrations = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT }.Select(s => PosixSignalRegistration.Create(s, OnSignal))];

    /// <summary>Completes when one of the signals arrives.</summary>
    public async Task WaitAsync()
    {
        try
        {
            await Task.Delay(Timeout.Infinite, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Signalled.
        }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop.Cancel();
    }
}

/// <summary>
/// A simulator server's host lifetime: it takes no process signals. The default console lifetime would swallow
/// SIGTERM and SIGINT (also in test processes that host a simulator) and only stop Kestrel; whoever runs the server
/// (Program.cs through <see cref="SimulatorSignals"/>, a test) decides when to stop it and disposes it.
/// </summary>
internal sealed class HostedWithoutSignals : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
