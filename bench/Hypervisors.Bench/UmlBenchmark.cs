using System.Diagnostics;
using System.Globalization;
using Hypervisors.Uml;

namespace Hypervisors.Bench;

/// <summary>
/// <c>uml -n 20</c>: boot-to-marker and graceful-stop time of n busybox UML guests through <see cref="UmlDriver"/>,
/// against bench/uml-shell/boot-stop.sh starting linux.uml by hand with the same kernel arguments, interleaved guest
/// by guest in the same run; then n guests running at once for the driver's own memory per running guest (and the
/// guests' proportional resident memory). Needs .ci/setup/70-uml.sh (user-mode-linux, uml-utilities, busybox-static).
/// </summary>
internal sealed class UmlBenchmark : IBenchmarkCommand
{
    private const string Marker = "UML-BENCH-BOOTED";

    public string Name => "uml";

    public string Usage => "-n 20 [--script bench/uml-shell/boot-stop.sh]: boot and stop n UML guests through the driver and by a shell script; driver memory per running guest";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var n = arguments.GetInt("n", 20);
        var script = Path.GetFullPath(arguments.Get("script", Path.Combine(FindRepositoryRoot(), "bench", "uml-shell", "boot-stop.sh")));
        var root = Path.Combine("/tmp", "hyp-uml-bench-" + Guid.NewGuid().ToString("N")[..6]);
        try
        {
            var (guestRoot, baseImage) = MakeGuest(root);
            var options = new UmlDriverOptions { StateDirectory = Path.Combine(root, "state") };
            options.AllowedImageDirectories.Add(Path.Combine(root, "images"));
            var driver = new UmlDriver(options);
            await using (driver.ConfigureAwait(false))
            {
                InstanceSpec Spec(Guid id) => new()
                {
                    Id = id,
                    Name = "bench-" + id.ToString("N")[..8],
                    VCpus = 1,
                    MemoryMiB = 64,
                    Disks = [new DiskSpec(1, baseImage)],
                    KernelBoot = new KernelBootSpec(options.KernelPath, null, "root=/dev/root rootfstype=hostfs rw init=/sbin/init quiet hostfs=" + guestRoot),
                };

                // One of each first, so JIT and page cache are warm for both.
                await DriverBootStopAsync(driver, Spec(Guid.NewGuid()), cancellationToken).ConfigureAwait(false);
                await ScriptBootStopAsync(script, root, options, Spec(Guid.NewGuid()), cancellationToken).ConfigureAwait(false);

                var driverTimes = new List<(double Boot, double Stop)>();
                var scriptTimes = new List<(double Boot, double Stop)>();
                for (var i = 0; i < n; i++)
                {
                    driverTimes.Add(await DriverBootStopAsync(driver, Spec(Guid.NewGuid()), cancellationToken).ConfigureAwait(false));
                    scriptTimes.Add(await ScriptBootStopAsync(script, root, options, Spec(Guid.NewGuid()), cancellationToken).ConfigureAwait(false));
                }

                var (driverKiB, guestKiB) = await MemoryPerGuestAsync(driver, n, Spec, cancellationToken).ConfigureAwait(false);
                var c = CultureInfo.InvariantCulture;
                double Mean(IEnumerable<double> values) => values.Average();
                var bootRatio = Mean(driverTimes.Select(t => t.Boot)) / Mean(scriptTimes.Select(t => t.Boot));
                var stopRatio = Mean(driverTimes.Select(t => t.Stop)) / Mean(scriptTimes.Select(t => t.Stop));
                Console.WriteLine(string.Create(c,
                    $"{{\"impl\":\"uml\",\"n\":{n},\"driver_boot_ms\":{Mean(driverTimes.Select(t => t.Boot)):F1},\"script_boot_ms\":{Mean(scriptTimes.Select(t => t.Boot)):F1},\"boot_ratio\":{bootRatio:F3},\"driver_stop_ms\":{Mean(driverTimes.Select(t => t.Stop)):F1},\"script_stop_ms\":{Mean(scriptTimes.Select(t => t.Stop)):F1},\"stop_ratio\":{stopRatio:F3},\"driver_kib_per_running_guest\":{driverKiB:F0},\"guest_pss_kib\":{guestKiB:F0}}}"));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        return 0;
    }

    private static async Task<(double Boot, double Stop)> DriverBootStopAsync(UmlDriver driver, InstanceSpec spec, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await driver.CreateInstanceAsync(spec with { StartAfterCreate = true }, cancellationToken).ConfigureAwait(false);
        await WaitForMarkerAsync(driver, spec.Id, cancellationToken).ConfigureAwait(false);
        var boot = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        await driver.StopInstanceAsync(spec.Id, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var stop = clock.Elapsed.TotalMilliseconds;
        await driver.DeleteInstanceAsync(spec.Id, cancellationToken).ConfigureAwait(false);
        return (boot, stop);
    }

    private static async Task WaitForMarkerAsync(UmlDriver driver, Guid id, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!(await driver.GetConsoleOutputAsync(id, cancellationToken).ConfigureAwait(false)).Text.Contains("\n" + Marker, StringComparison.Ordinal))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"Guest {id} printed no marker in 60 s.");
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The script boots the same kernel with the arguments the driver builds for an instance of its own folder.</summary>
    private static async Task<(double Boot, double Stop)> ScriptBootStopAsync(string script, string root, UmlDriverOptions options, InstanceSpec spec, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(root, "script", spec.Id.ToString("D"));
        Directory.CreateDirectory(Path.Combine(folder, "hostfs-empty"));
        var runRoot = Path.Combine(root, "script-run");
        var record = new UmlInstanceRecord
        {
            Spec = spec,
            Disks = [new UmlDisk(0, 1, spec.Disks[0].ImageRef, spec.Disks[0].ImageRef, Path.Combine(folder, "disk0.cow"))],
        };
        var kernelArguments = UmlBootArguments.Build(record, options, runRoot, Path.Combine(folder, "notify"), Path.Combine(folder, "hostfs-empty"));
        var start = new ProcessStartInfo(script) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(folder, "console.log"), Path.Combine(runRoot, spec.Id.ToString("D"), "mconsole"), Marker, options.KernelPath }.Concat(kernelArguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var parts = output.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (process.ExitCode != 0 || parts.Length != 2)
        {
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {output}");
        }

        return (double.Parse(parts[0], CultureInfo.InvariantCulture) / 1000, double.Parse(parts[1], CultureInfo.InvariantCulture) / 1000);
    }

    /// <summary>Starts n guests at once: the growth of this process's memory per guest, and the guests' own resident memory.</summary>
    private static async Task<(double DriverKiB, double GuestKiB)> MemoryPerGuestAsync(UmlDriver driver, int n, Func<Guid, InstanceSpec> spec, CancellationToken cancellationToken)
    {
        static long OwnKiB()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            return self.WorkingSet64 / 1024;
        }

        var before = OwnKiB();
        var ids = Enumerable.Range(0, n).Select(_ => Guid.NewGuid()).ToList();
        foreach (var id in ids)
        {
            await driver.CreateInstanceAsync(spec(id) with { StartAfterCreate = true }, cancellationToken).ConfigureAwait(false);
        }

        foreach (var id in ids)
        {
            await WaitForMarkerAsync(driver, id, cancellationToken).ConfigureAwait(false);
        }

        var after = OwnKiB();
        long guestKiB = 0;
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var commandLine = await File.ReadAllTextAsync(Path.Combine(folder, "cmdline"), cancellationToken).ConfigureAwait(false);
                if (ids.Any(id => commandLine.Contains("umid=" + id.ToString("D"), StringComparison.Ordinal)))
                {
                    // Proportional set size: a guest's processes share its memory file, so plain RSS would count it once per process.
                    var pss = File.ReadLines(Path.Combine(folder, "smaps_rollup")).FirstOrDefault(l => l.StartsWith("Pss:", StringComparison.Ordinal));
                    guestKiB += pss is null ? 0 : long.Parse(pss.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // Ended while being read.
            }
        }

        foreach (var id in ids)
        {
            await driver.DeleteInstanceAsync(id, cancellationToken).ConfigureAwait(false);
        }

        return ((after - before) / (double)n, guestKiB / (double)n);
    }

    private static (string GuestRoot, string BaseImage) MakeGuest(string root)
    {
        var images = Path.Combine(root, "images");
        var guest = Path.Combine(images, "busybox-root");
        foreach (var folder in new[] { "bin", "sbin", "etc", "proc", "sys", "dev" })
        {
            Directory.CreateDirectory(Path.Combine(guest, folder));
        }

        File.Copy("/bin/busybox", Path.Combine(guest, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(guest, "bin", "sh"), "busybox");
        File.CreateSymbolicLink(Path.Combine(guest, "sbin", "init"), "../bin/busybox");

        // The marker at boot; Ctrl-Alt-Del powers off, so the script and the driver both stop the guest with one cad.
        File.WriteAllText(Path.Combine(guest, "etc", "inittab"),
            $"::sysinit:/bin/busybox mount -t proc proc /proc\n::sysinit:/bin/busybox echo {Marker}\n::respawn:/bin/busybox sleep 1000\n::ctrlaltdel:/bin/busybox poweroff\n");
        var image = Path.Combine(images, "base.img");
        using (var file = File.Create(image))
        {
            file.SetLength(4 * 1024 * 1024);
        }

        return (guest, image);
    }

    private static string FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Drivers.sln")))
            {
                return folder.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
