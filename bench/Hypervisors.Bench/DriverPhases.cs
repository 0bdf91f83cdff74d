using System.Diagnostics;
using System.Globalization;

namespace Hypervisors.Bench;

/// <summary>
/// The phased driver benchmark the driver commands share: create, power on, list, power off and destroy of n
/// instances (1 vCPU, 64 MiB each), each phase timed in milliseconds, and the JSON line the ESX, Xen and Hyper-V
/// commands print for it.
/// </summary>
internal static class DriverPhases
{
    /// <summary>Each phase's elapsed milliseconds (create, power on, list, power off, destroy) and what the list returned.</summary>
    internal sealed record Result(double[] Milliseconds, IReadOnlyList<InstanceInfo> Listed, IReadOnlyList<InstanceSpec> Specs);

    /// <summary>
    /// Runs the five phases on n fresh instances named <c>prefix-run-i</c>. With <paramref name="parallelism"/> each
    /// per-instance phase runs through <see cref="Parallel.ForEachAsync{TSource}(IEnumerable{TSource}, ParallelOptions, Func{TSource, CancellationToken, ValueTask})"/>
    /// with that many in flight; with null, one operation at a time on the caller's flow, as a caller would issue them.
    /// </summary>
    public static async Task<Result> RunAsync(IHypervisorDriver driver, string prefix, int n, int? parallelism, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var specs = Enumerable.Range(0, n).Select(i => new InstanceSpec
        {
            Id = Guid.NewGuid(),
            Name = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{run}-{i}"),
            VCpus = 1,
            MemoryMiB = 64,
        }).ToList();
        var phases = new double[5];
        var clock = Stopwatch.StartNew();
        await ForEachAsync(specs, parallelism, (spec, ct) => new ValueTask(driver.CreateInstanceAsync(spec, ct)), cancellationToken).ConfigureAwait(false);
        phases[0] = Lap(clock);
        await ForEachAsync(specs, parallelism, (spec, ct) => new ValueTask(driver.StartInstanceAsync(spec.Id, ct)), cancellationToken).ConfigureAwait(false);
        phases[1] = Lap(clock);
        var listed = await driver.ListInstancesAsync(cancellationToken).ConfigureAwait(false);
        phases[2] = Lap(clock);
        await ForEachAsync(specs, parallelism, (spec, ct) => new ValueTask(driver.PowerOffInstanceAsync(spec.Id, ct)), cancellationToken).ConfigureAwait(false);
        phases[3] = Lap(clock);
        await ForEachAsync(specs, parallelism, (spec, ct) => new ValueTask(driver.DeleteInstanceAsync(spec.Id, ct)), cancellationToken).ConfigureAwait(false);
        phases[4] = Lap(clock);
        return new Result(phases, listed, specs);
    }

    /// <summary>
    /// <see cref="RunAsync"/> with p in flight; the list must have shown all n instances running with the spec's size.
    /// </summary>
    public static async Task<double[]> RunCheckedAsync(IHypervisorDriver driver, string prefix, int n, int parallelism, CancellationToken cancellationToken)
    {
        var result = await RunAsync(driver, prefix, n, parallelism, cancellationToken).ConfigureAwait(false);
        var ids = result.Specs.Select(s => s.Id).ToHashSet();
        var running = result.Listed.Count(i => ids.Contains(i.Id) && i is { PowerState: PowerState.Running, VCpus: 1, MemoryMiB: 64 });
        return running == n
            ? result.Milliseconds
            : throw new InvalidOperationException($"The list showed {running} of the {n} VMs running with 1 vCPU and 64 MiB.");
    }

    /// <summary>The one JSON line with the phase keys the ESX, Xen and Hyper-V commands (and their references) share.</summary>
    public static string JsonLine(string impl, int n, int parallelism, double[] phases) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"impl\":\"{impl}\",\"n\":{n},\"p\":{parallelism},\"create_ms\":{phases[0]:F1},\"power_on_ms\":{phases[1]:F1},\"list_ms\":{phases[2]:F1},\"power_off_ms\":{phases[3]:F1},\"destroy_ms\":{phases[4]:F1},\"total_ms\":{phases.Sum():F1}}}");

    private static async Task ForEachAsync(
        List<InstanceSpec> specs, int? parallelism, Func<InstanceSpec, CancellationToken, ValueTask> operation, CancellationToken cancellationToken)
    {
        if (parallelism is { } inFlight)
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = inFlight, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(specs, options, operation).ConfigureAwait(false);
            return;
        }

        foreach (var spec in specs)
        {
            await operation(spec, cancellationToken).ConfigureAwait(false);
        }
    }

    private static double Lap(Stopwatch clock)
    {
        var ms = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        return ms;
    }
}
