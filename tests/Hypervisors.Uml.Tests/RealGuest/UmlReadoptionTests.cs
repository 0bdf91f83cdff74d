using System.Diagnostics;

namespace Hypervisors.Uml.Tests;

/// <summary>A driver killed while its guests run: a new driver on the same state folder finds them again and manages them.</summary>
public sealed class UmlReadoptionTests : IDisposable
{
    private readonly UmlTestHost _host = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task Two_guests_outlive_a_killed_driver_and_a_new_driver_readopts_and_manages_both()
    {
        UmlTestHost.Require();
        Guid[] ids = [Guid.NewGuid(), Guid.NewGuid()];

        // The first driver runs in a process of its own, starts both guests and is killed with SIGKILL.
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "Hypervisors.Uml.Tests.dll") }.Where(_ => Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal)))
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("uml-driver-host");
        start.ArgumentList.Add(_host.Root);
        start.ArgumentList.Add(ids[0].ToString());
        start.ArgumentList.Add(ids[1].ToString());
        using (var first = Process.Start(start)!)
        {
            try
            {
                string? line;
                while ((line = await first.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(120), Ct)) != "READY")
                {
                    if (line is null)
                    {
                        Assert.Fail("The driver host ended early: " + await first.StandardError.ReadToEndAsync(Ct));
                    }
                }
            }
            finally
            {
                first.Kill();
                await first.WaitForExitAsync(Ct);
            }
        }

        var kernels = ids.Select(id => Assert.Single(GuestConsole.ProcessesOf(id), GuestConsole.IsSessionLeader)).ToArray();

        await using var driver = new UmlDriver(_host.Options());
        var listed = await driver.ListInstancesAsync(Ct);
        foreach (var id in ids)
        {
            Assert.Equal(PowerState.Running, Assert.Single(listed, i => i.Id == id).PowerState);
            await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 1, "the boot marker");
        }

        // The same kernels, managed by the new driver: mconsole, the notify socket (a reboot) and exit watching.
        await driver.PauseInstanceAsync(ids[0], Ct);
        Assert.Equal(PowerState.Paused, (await driver.GetInstanceAsync(ids[0], Ct)).PowerState);
        await driver.UnpauseInstanceAsync(ids[0], Ct);
        await driver.RebootInstanceAsync(ids[1], RebootKind.Soft, Ct);
        await GuestConsole.WaitForAsync(driver, ids[1], t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 2, "the second boot marker after the reboot");
        Assert.Equal(kernels, ids.Select(id => Assert.Single(GuestConsole.ProcessesOf(id), GuestConsole.IsSessionLeader)));

        using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var stopped = GuestConsole.WaitForEventAsync(driver, ids[0], InstanceEventKind.Stopped, watch.Token);
        await driver.StopInstanceAsync(ids[0], TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(PowerState.Shutdown, (await stopped.WaitAsync(TimeSpan.FromSeconds(30), Ct)).PowerState);
        Assert.Empty(GuestConsole.ProcessesOf(ids[0]));
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(ids[1], Ct)).PowerState);

        foreach (var id in ids)
        {
            await driver.DeleteInstanceAsync(id, Ct);
            Assert.Empty(GuestConsole.ProcessesOf(id));
        }
    }

    public void Dispose() => _host.Dispose();
}
