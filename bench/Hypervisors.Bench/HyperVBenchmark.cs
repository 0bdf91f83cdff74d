using System.Diagnostics;
using System.Globalization;
using System.Net;
using Hypervisors.Fake;
using Hypervisors.HyperV;
using HyperVSimulator;

namespace Hypervisors.Bench;

/// <summary>
/// <c>hyperv [--url URL] -n 1000 -p 8</c>: creates, powers on, lists, powers off and destroys n VMs through
/// <see cref="HyperVDriver"/> with p operations in flight, and prints one JSON line with the ESX benchmark's keys.
/// Without --url it starts the Hyper-V simulator in process. No outside Hyper-V client exists to compare with, so the
/// same phases also run on the in-memory fake driver (a floor: the contract's own cost), printed as a second line
/// with each phase's ratio.
/// </summary>
internal sealed class HyperVBenchmark : IBenchmarkCommand
{
    public string Name => "hyperv";

    public string Usage => "[--url http(s)://host:5985/wsman] -n 1000 -p 8 [--user U --password P (or $HYPERV_PASSWORD)] [--job-ms 20] [--warmup 16]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var n = arguments.GetInt("n", 1000);
        var parallelism = arguments.GetInt("p", 8);
        var warmup = arguments.GetInt("warmup", 16);
        HyperVSimulatorServer? simulator = null;
        var url = arguments.Get("url", string.Empty);
        if (url.Length == 0)
        {
            simulator = await HyperVSimulatorServer.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            simulator.Host.Behavior.JobDuration = TimeSpan.FromMilliseconds(arguments.GetInt("job-ms", 20));
            url = simulator.Endpoint.AbsoluteUri;
        }

        try
        {
            var defaults = new HyperVSimulatorOptions();
            var options = new HyperVDriverOptions
            {
                Url = new Uri(url),
                Credentials = new NetworkCredential(arguments.Get("user", defaults.UserName),
                    arguments.Get("password", Environment.GetEnvironmentVariable("HYPERV_PASSWORD") ?? defaults.Password)),
                JobPollInterval = TimeSpan.FromMilliseconds(50),
            };
            double[] hyperV;
            await using (var driver = new HyperVDriver(options))
            {
                await RunPhasesAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false);
                hyperV = await RunPhasesAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            }

            double[] fake;
            await using (var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { VCpus = 1_000_000, MemoryMiB = 1L << 40 }))
            {
                await RunPhasesAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false);
                fake = await RunPhasesAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            }

            Console.WriteLine(Line("dotnet-hyperv" + (simulator is null ? string.Empty : "-simulator"), n, parallelism, hyperV));
            Console.WriteLine(Line("fake", n, parallelism, fake));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"impl\":\"ratio hyperv/fake\",\"create\":{hyperV[0] / fake[0]:F1},\"power_on\":{hyperV[1] / fake[1]:F1},\"list\":{hyperV[2] / fake[2]:F1},\"power_off\":{hyperV[3] / fake[3]:F1},\"destroy\":{hyperV[4] / fake[4]:F1},\"total\":{hyperV.Sum() / fake.Sum():F1},\"per_op_create_ms\":{hyperV[0] * parallelism / n:F2}}}"));
        }
        finally
        {
            if (simulator is not null)
            {
                await simulator.DisposeAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static string Line(string impl, int n, int parallelism, double[] phases) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"impl\":\"{impl}\",\"n\":{n},\"p\":{parallelism},\"create_ms\":{phases[0]:F1},\"power_on_ms\":{phases[1]:F1},\"list_ms\":{phases[2]:F1},\"power_off_ms\":{phases[3]:F1},\"destroy_ms\":{phases[4]:F1},\"total_ms\":{phases.Sum():F1}}}");

    private static async Task<double[]> RunPhasesAsync(IHypervisorDriver driver, string prefix, int n, int parallelism, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var specs = Enumerable.Range(0, n).Select(i => new InstanceSpec
        {
            Id = Guid.NewGuid(),
            Name = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{run}-{i}"),
            VCpus = 1,
            MemoryMiB = 64,
        }).ToList();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken };
        var phases = new double[5];
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(specs, parallel, async (spec, ct) => await driver.CreateInstanceAsync(spec, ct).ConfigureAwait(false)).ConfigureAwait(false);
        phases[0] = Lap(clock);
        await Parallel.ForEachAsync(specs, parallel, async (spec, ct) => await driver.StartInstanceAsync(spec.Id, ct).ConfigureAwait(false)).ConfigureAwait(false);
        phases[1] = Lap(clock);
        var listed = await driver.ListInstancesAsync(cancellationToken).ConfigureAwait(false);
        phases[2] = Lap(clock);
        await Parallel.ForEachAsync(specs, parallel, async (spec, ct) => await driver.PowerOffInstanceAsync(spec.Id, ct).ConfigureAwait(false)).ConfigureAwait(false);
        phases[3] = Lap(clock);
        await Parallel.ForEachAsync(specs, parallel, async (spec, ct) => await driver.DeleteInstanceAsync(spec.Id, ct).ConfigureAwait(false)).ConfigureAwait(false);
        phases[4] = Lap(clock);
        var ids = specs.Select(s => s.Id).ToHashSet();
        var running = listed.Count(i => ids.Contains(i.Id) && i.PowerState == PowerState.Running && i.VCpus == 1 && i.MemoryMiB == 64);
        if (running != n)
        {
            throw new InvalidOperationException($"The list showed {running} of the {n} VMs running with 1 vCPU and 64 MiB.");
        }

        return phases;
    }

    private static double Lap(Stopwatch clock)
    {
        var ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        return ms;
    }
}
