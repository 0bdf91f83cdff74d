using System.Globalization;
using Hypervisors.Esx;

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
            UserName = arguments.Get("user", "user"),
            Password = password,
            EnableEvents = false, // nothing subscribes here, and the govmomi reference watches nothing either
            VerifyNewIdsOnServer = false, // vcsim cannot answer FindByUuid beside a running create; the ids are fresh
        };
        if (arguments.Get("thumbprint", string.Empty) is { Length: > 0 } thumbprint)
        {
            options.Tls.PinnedSha256Thumbprints.Add(thumbprint);
        }

        var driver = new EsxDriver(options);
        await using (driver.ConfigureAwait(false))
        {
            await driver.ConnectAsync(cancellationToken).ConfigureAwait(false);
            await JitWarmup.UntilSettledAsync(ct => DriverPhases.RunCheckedAsync(driver, "warm", warmup, parallelism, ct), cancellationToken).ConfigureAwait(false);
            var phases = await DriverPhases.RunCheckedAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(DriverPhases.JsonLine("dotnet", n, parallelism, phases));
        }

        return 0;
    }
}
