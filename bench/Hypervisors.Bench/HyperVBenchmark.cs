using System.Globalization;
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
                UserName = arguments.Get("user", defaults.UserName),
                Password = arguments.Get("password", Environment.GetEnvironmentVariable("HYPERV_PASSWORD") ?? defaults.Password),
                JobPollInterval = TimeSpan.FromMilliseconds(50),
            };
            double[] hyperV;
            await using (var driver = new HyperVDriver(options))
            {
                await DriverPhases.RunCheckedAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false);
                hyperV = await DriverPhases.RunCheckedAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            }

            double[] fake;
            await using (var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { VCpus = 1_000_000, MemoryMiB = 1L << 40 }))
            {
                await DriverPhases.RunCheckedAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false);
                fake = await DriverPhases.RunCheckedAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            }

            Console.WriteLine(DriverPhases.JsonLine("dotnet-hyperv" + (simulator is null ? string.Empty : "-simulator"), n, parallelism, hyperV));
            Console.WriteLine(DriverPhases.JsonLine("fake", n, parallelism, fake));
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
}
