using System.Diagnostics;
using Hypervisors.Uml.Mconsole;

namespace Hypervisors.Uml.Tests;

/// <summary>
/// Real UML guests through the driver: boot marker, pause (nothing runs in the guest while paused), soft reboot,
/// hot-plugged volume and interface seen inside the guest, graceful stop through the guest's init, delete leaving
/// nothing behind; panics reported through the notify socket; the driver's mconsole answers equal uml_mconsole's.
/// </summary>
public sealed class UmlGuestTests : IDisposable
{
    private readonly UmlTestHost _host = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task A_busybox_guest_boots_pauses_reboots_takes_devices_stops_and_leaves_nothing_when_deleted()
    {
        UmlTestHost.Require();
        await using var driver = new UmlDriver(_host.Options());
        var id = Guid.NewGuid();
        await driver.CreateInstanceAsync(_host.Spec(id, "guest-" + id.ToString("N")[..6]), Ct);
        await driver.StartInstanceAsync(id, Ct);
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(id, Ct)).PowerState);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Status(t).Count >= 3, "the boot marker and status lines");
        Assert.Equal(1, GuestConsole.Count(await GuestConsole.TextAsync(driver, id), UmlTestHost.BootMarker));

        // Paused: the guest runs nothing, so its status loop prints nothing; it goes on from the next tick after unpause.
        await driver.PauseInstanceAsync(id, Ct);
        Assert.Equal(PowerState.Paused, (await driver.GetInstanceAsync(id, Ct)).PowerState);
        var ticksAtPause = GuestConsole.Status(await GuestConsole.TextAsync(driver, id)).Max(s => s.Tick);
        await Task.Delay(1500, Ct);
        var ticksWhilePaused = GuestConsole.Status(await GuestConsole.TextAsync(driver, id)).Max(s => s.Tick);
        Assert.True(ticksWhilePaused <= ticksAtPause + 1, $"The guest printed ticks {ticksAtPause}..{ticksWhilePaused} while paused for 1.5 s (0.2 s each).");
        await driver.UnpauseInstanceAsync(id, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Status(t).Max(s => s.Tick) >= ticksWhilePaused + 3, "ticks after unpause");
        var afterUnpause = GuestConsole.Status(await GuestConsole.TextAsync(driver, id));
        Assert.Contains(afterUnpause, s => s.Tick == ticksWhilePaused + 1);

        // Soft reboot through Ctrl-Alt-Del: the guest's init shuts down and the kernel boots again in the same process.
        var pid = Assert.Single(GuestConsole.ProcessesOf(id), GuestConsole.IsSessionLeader);
        await driver.RebootInstanceAsync(id, RebootKind.Soft, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 2, "the second boot marker");
        Assert.Contains(UmlTestHost.ShutdownMarker, await GuestConsole.TextAsync(driver, id), StringComparison.Ordinal);
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(id, Ct)).PowerState);
        Assert.Contains(pid, GuestConsole.ProcessesOf(id));

        // A hot-plugged volume is the guest's ubdb (ubda is the COW disk).
        var attached = await driver.AttachVolumeAsync(id, _host.Volume("data"), Ct);
        Assert.Equal("ubdb", attached.Device);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Status(t).LastOrDefault().Ubd.Contains("ubdb", StringComparison.Ordinal), "ubdb inside the guest");
        Assert.Contains("ubda", GuestConsole.Status(await GuestConsole.TextAsync(driver, id))[^1].Ubd, StringComparison.Ordinal);

        if (driver.Capabilities.SupportsInterfaceAttach)
        {
            var nic = await driver.AttachInterfaceAsync(id, new NetworkInterfaceSpec("default", "52:54:00:aa:bb:01"), Ct);
            Assert.Equal("vec0", nic.Device);
            await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Status(t).LastOrDefault().Net.Contains("vec0", StringComparison.Ordinal), "vec0 in the guest's /sys/class/net");
            Assert.True(Directory.Exists("/sys/class/net/u" + id.ToString("N")[..8] + "v0"), "The interface's tap device is missing on the host.");
        }

        await driver.DetachVolumeAsync(id, "data", Ct);
        await GuestConsole.WaitForAsync(driver, id, t => !GuestConsole.Status(t).Last().Ubd.Contains("ubdb", StringComparison.Ordinal), "ubdb gone from the guest");

        // Graceful stop: the guest's init runs its shutdown action and the kernel ends.
        var shutdownsBefore = GuestConsole.Count(await GuestConsole.TextAsync(driver, id), UmlTestHost.ShutdownMarker);
        await driver.StopInstanceAsync(id, TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(id, Ct)).PowerState);
        Assert.Equal(shutdownsBefore + 1, GuestConsole.Count(await GuestConsole.TextAsync(driver, id), UmlTestHost.ShutdownMarker));
        Assert.Empty(GuestConsole.ProcessesOf(id));

        await driver.DeleteInstanceAsync(id, Ct);
        Assert.Empty(GuestConsole.ProcessesOf(id));
        Assert.False(Directory.Exists(Path.Combine(_host.StateDirectory, "instances", id.ToString("D"))));
        Assert.False(Directory.Exists(Path.Combine(_host.StateDirectory, "run", id.ToString("D"))));
        Assert.False(Directory.Exists("/sys/class/net/u" + id.ToString("N")[..8] + "v0"), "The tap device outlived the instance.");
        Assert.True(File.Exists(_host.BaseImage), "Deleting the instance removed its base image.");
    }

    [Fact(Timeout = 120_000)]
    public async Task A_kernel_panic_arrives_through_the_notify_socket_and_leaves_the_instance_crashed_and_startable()
    {
        UmlTestHost.Require();
        await using var driver = new UmlDriver(_host.Options());
        var id = Guid.NewGuid();
        await driver.CreateInstanceAsync(_host.Spec(id, "panic-" + id.ToString("N")[..6]) with { StartAfterCreate = true }, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 1, "the boot marker");
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var crashed = GuestConsole.WaitForEventAsync(driver, id, InstanceEventKind.Crashed, watch.Token);

        // sysrq c makes the kernel panic on purpose (it dies before it can answer).
        var request = driver.SendMconsoleCommandAsync(id, "sysrq c", Ct);
        var crash = await crashed.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await Assert.ThrowsAnyAsync<HypervisorException>(() => request);
        Assert.Equal(PowerState.Crashed, crash.PowerState);
        Assert.Equal(PowerState.Crashed, (await driver.GetInstanceAsync(id, Ct)).PowerState);
        Assert.Empty(GuestConsole.ProcessesOf(id));

        await driver.StartInstanceAsync(id, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 2, "the boot marker after the crash");
        await driver.DeleteInstanceAsync(id, Ct);
        Assert.Empty(GuestConsole.ProcessesOf(id));
    }

    [Fact(Timeout = 120_000)]
    public async Task The_drivers_mconsole_client_answers_as_uml_mconsole_does()
    {
        UmlTestHost.Require();
        Assert.True(File.Exists("/usr/bin/uml_mconsole"), "uml_mconsole (uml-utilities) is missing.");
        await using var driver = new UmlDriver(_host.Options());
        var id = Guid.NewGuid();
        await driver.CreateInstanceAsync(_host.Spec(id, "mc-" + id.ToString("N")[..6]) with { StartAfterCreate = true }, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 1, "the boot marker");
        var socket = Path.Combine(_host.StateDirectory, "run", id.ToString("D"), "mconsole");
        var volume = _host.Volume("compare");

        // Queries answer the same every time; state changes are compared on their second call (both "already" answers).
        await driver.AttachVolumeAsync(id, volume, Ct);
        string[] commands = ["version", "config ubd0", "config ubd1", "config ubd9", "no-such-command", "sysrq h"];
        foreach (var command in commands)
        {
            Assert.Equal(await UmlMconsoleAsync(socket, command), (await driver.SendMconsoleCommandAsync(id, command, Ct)).ToString());
        }

        Assert.Equal("OK " + volume.Source, (await driver.SendMconsoleCommandAsync(id, "config ubd1", Ct)).ToString());

        // uml_mconsole appends its own local commands to the kernel's help.
        var help = (await driver.SendMconsoleCommandAsync(id, "help", Ct)).ToString();
        Assert.StartsWith(help + "\nAdditional local mconsole commands", await UmlMconsoleAsync(socket, "help"), StringComparison.Ordinal);

        Assert.Equal("OK stopped", (await driver.SendMconsoleCommandAsync(id, "stop", Ct)).ToString());
        Assert.Equal(await UmlMconsoleAsync(socket, "stop"), (await driver.SendMconsoleCommandAsync(id, "stop", Ct)).ToString());
        Assert.Equal(await UmlMconsoleAsync(socket, "version"), (await driver.SendMconsoleCommandAsync(id, "version", Ct)).ToString());
        Assert.Equal("OK ", (await driver.SendMconsoleCommandAsync(id, "go", Ct)).ToString());

        // The driver's own device changes (config/remove through its client) answer as uml_mconsole's do.
        await driver.DetachVolumeAsync(id, volume.VolumeId, Ct);
        Assert.Equal("ERR Device doesn't exist", await UmlMconsoleAsync(socket, "remove ubd1"));
        Assert.Equal(await UmlMconsoleAsync(socket, "config ubd1"), (await driver.SendMconsoleCommandAsync(id, "config ubd1", Ct)).ToString());

        // Device changes by hand would bypass the host path allow-list and the record.
        await Assert.ThrowsAsync<InvalidSpecException>(() => driver.SendMconsoleCommandAsync(id, "config ubd2=/etc/shadow", Ct));
        await Assert.ThrowsAsync<InvalidSpecException>(() => driver.SendMconsoleCommandAsync(id, "remove ubd0", Ct));

        await driver.DeleteInstanceAsync(id, Ct);
        Assert.Empty(GuestConsole.ProcessesOf(id));
    }

    public void Dispose() => _host.Dispose();

    /// <summary>Debian's reference client: prints "OK text" or "ERR text" for one command.</summary>
    internal static async Task<string> UmlMconsoleAsync(string socket, string command)
    {
        var start = new ProcessStartInfo("/usr/bin/uml_mconsole") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(socket);
        foreach (var word in command.Split(' '))
        {
            start.ArgumentList.Add(word);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(Ct);
        await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        // It prints the answer and one newline.
        return output.EndsWith('\n') ? output[..^1] : output;
    }
}
