using System.Diagnostics;
using System.Globalization;
using Hypervisors.Esx;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Bench;

/// <summary>
/// <c>esx --url URL -n 1000 -p 8</c>: creates, powers on, lists (all, with power state and hardware), powers off and
/// destroys n VMs through <see cref="EsxDriver"/> with p operations in flight, and prints one JSON line.
/// bench/govmomi does the same phases with VMware's Go client; bench/govmomi/compare.sh runs both against vcsim.
/// </summary>
internal sealed class EsxBenchmark : IBenchmarkCommand
{
    public string Name => "esx";

    public string Usage => "--url https://host/sdk -n 1000 -p 8 [--user U --password P (or $ESX_PASSWORD)] [--thumbprint SHA256] [--warmup 64]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var url = new Uri(arguments.Require("url"));
        var n = arguments.GetInt("n", 1000);
        var parallelism = arguments.GetInt("p", 8);
        var warmup = arguments.GetInt("warmup", 64);
        var password = arguments.Get("password", Environment.GetEnvironmentVariable("ESX_PASSWORD") ?? "pass");
        var options = new EsxDriverOptions
        {
            Url = url,
            Credentials = DelegateCredentialProvider.Fixed(arguments.Get("user", "user"), password),
            EnableEvents = false, // nothing subscribes here, and the govmomi reference watches nothing either
            VerifyNewIdsOnServer = false, // vcsim cannot answer FindByUuid beside a running create; the ids are fresh
        };
        if (arguments.Get("thumbprint", string.Empty) is { Length: > 0 } thumbprint)
        {
            options.TrustedThumbprints.Add(thumbprint);
        }

        var driver = new EsxDriver(options);
        await using (driver.ConfigureAwait(false))
        {
            await driver.ConnectAsync(cancellationToken).ConfigureAwait(false);
            await RunPhasesAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false); // JIT the measured paths
            var phases = await RunPhasesAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"impl\":\"dotnet\",\"n\":{n},\"p\":{parallelism},\"create_ms\":{phases[0]:F1},\"power_on_ms\":{phases[1]:F1},\"list_ms\":{phases[2]:F1},\"power_off_ms\":{phases[3]:F1},\"destroy_ms\":{phases[4]:F1},\"total_ms\":{phases.Sum():F1}}}"));
        }

        return 0;
    }

    private static async Task<double[]> RunPhasesAsync(EsxDriver driver, string prefix, int n, int parallelism, CancellationToken cancellationToken)
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
