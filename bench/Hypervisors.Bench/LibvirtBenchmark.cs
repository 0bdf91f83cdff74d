using System.Globalization;
using Hypervisors.Libvirt;

namespace Hypervisors.Bench;

/// <summary>
/// <c>libvirt --uri test:///default -n 10000</c>: define, start, list with info, destroy and undefine of n domains
/// through <see cref="LibvirtDriver"/>, one operation at a time as a caller would issue them. bench/libvirt-c runs
/// the same phases on the C API; bench/libvirt-c/compare.sh runs both and prints the ratios.
/// </summary>
internal sealed class LibvirtBenchmark : IBenchmarkCommand
{
    public string Name => "libvirt";

    public string Usage => "--uri test:///default -n 10000 [--warmup 1000] [--offload | --pinvoke]: define/start/list/destroy/undefine n domains through the driver (--pinvoke: the C reference's calls by bare P/Invoke, no driver)";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var uri = arguments.Get("uri", "test:///default");
        var n = arguments.GetInt("n", 10000);
        var warmup = arguments.GetInt("warmup", 1000);
        var offload = arguments.Get("offload", "false") == "true";
        if (arguments.Get("pinvoke", "false") == "true")
        {
            return await RunPInvokeAsync(uri, n, warmup, cancellationToken).ConfigureAwait(false);
        }

        var driver = new LibvirtDriver(new LibvirtDriverOptions
        {
            Uri = uri,
            InstanceDirectory = Path.Combine(Path.GetTempPath(), "hypervisors-libvirt-bench"),

            // --offload: every call on a thread-pool thread even for the in-process test driver (the default for it is the caller's thread).
            RunCallsOnCallerThread = offload ? false : null,
        });
        await using (driver.ConfigureAwait(false))
        {
            // The same cycle on some domains first (deleted again), until tiered compilation has settled on
            // optimized code for the paths being measured.
            await JitWarmup.UntilSettledAsync(ct => RunPhasesAsync(driver, "warm", warmup, ct), cancellationToken).ConfigureAwait(false);
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var (phases, listed) = await RunPhasesAsync(driver, "bench", n, cancellationToken).ConfigureAwait(false);
            var cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds;
            WriteResult(offload ? "dotnet-offload" : "dotnet", uri, n, listed, phases, cpu);
        }

        return 0;
    }

    /// <summary>The same phases as bare P/Invoke calls (see <see cref="LibvirtPInvokeReference"/>), warmed up the same way.</summary>
    private static async Task<int> RunPInvokeAsync(string uri, int n, int warmup, CancellationToken cancellationToken)
    {
        await JitWarmup.UntilSettledAsync(_ => Task.FromResult(LibvirtPInvokeReference.Run(uri, "warm", warmup)), cancellationToken).ConfigureAwait(false);
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var (phases, listed) = LibvirtPInvokeReference.Run(uri, "bench", n);
        var cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds;
        WriteResult("dotnet-pinvoke", uri, n, listed, phases, cpu);
        return 0;
    }

    private static void WriteResult(string impl, string uri, int n, int listed, double[] phases, double cpu) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"impl\":\"{impl}\",\"uri\":\"{uri}\",\"n\":{n},\"listed\":{listed},\"define_ms\":{phases[0]:F1},\"start_ms\":{phases[1]:F1},\"list_info_ms\":{phases[2]:F1},\"destroy_ms\":{phases[3]:F1},\"undefine_ms\":{phases[4]:F1},\"total_ms\":{phases.Sum():F1},\"cpu_ms\":{cpu:F1}}}"));

    private static async Task<(double[] Phases, int Listed)> RunPhasesAsync(LibvirtDriver driver, string prefix, int n, CancellationToken cancellationToken)
    {
        var (phases, listed, _) = await DriverPhases.RunAsync(driver, prefix, n, parallelism: null, cancellationToken).ConfigureAwait(false);
        if (listed.Count < n || listed.Count(i => i.PowerState == PowerState.Running) < n)
        {
            throw new InvalidOperationException($"Listed {listed.Count} instances, {listed.Count(i => i.PowerState == PowerState.Running)} running; expected at least {n} running.");
        }

        return (phases, listed.Count);
    }
}
