using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.NoEmit;
using Hypervisors.Xen.Wire;
using XenApiSimulator.Model;

namespace Hypervisors.Bench;

/// <summary>
/// <c>xen-codec [--vms 10000] [--iterations 5]</c>: writes a <c>VM.get_all_records</c> response of that many VMs (full
/// xapi-shaped records) to a temp file, times the project's XML-RPC decoder on it (envelope unwrapped, every value
/// materialised) with BenchmarkDotNet (in-process, one invocation per iteration: a decode takes about a second),
/// then runs bench/xmlrpc-python/decode_bench.py, which times Python's <c>xmlrpc.client.loads</c> on the same bytes,
/// and prints both medians and the throughput ratio as one JSON line.
/// </summary>
internal sealed class XenCodecBenchmark : IBenchmarkCommand
{
    public string Name => "xen-codec";

    public string Usage => "[--vms 10000] [--iterations 5] [--python python3]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var vms = arguments.GetInt("vms", 10_000);
        var iterations = arguments.GetInt("iterations", 5);
        var file = XenCodecDecodeBenchmarks.FilePath;
        try
        {
            await using (var output = File.Create(file))
            {
                XmlRpcWriter.WriteResponse(output, new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["Status"] = "Success",
                    ["Value"] = AllRecords(vms),
                });
            }

            var bytes = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
            if (XenCodecDecodeBenchmarks.Decode(bytes) != vms)
            {
                throw new InvalidOperationException($"The decoder did not return {vms} records.");
            }

            var job = Job.Default.WithToolchain(InProcessNoEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(2)
                .WithIterationCount(iterations).WithInvocationCount(1).WithUnrollFactor(1);
            var config = ManualConfig.CreateEmpty().AddJob(job).AddLogger(NullLogger.Instance)
                .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "hypervisors-bdn"))
                .WithOptions(ConfigOptions.DisableOptimizationsValidator | ConfigOptions.DisableLogFile);
            var summary = BenchmarkRunner.Run<XenCodecDecodeBenchmarks>(config);
            var statistics = summary.Reports.SingleOrDefault()?.ResultStatistics
                ?? throw new InvalidOperationException("BenchmarkDotNet produced no result: " + string.Join("; ", summary.ValidationErrors.Select(e => e.Message)));
            var dotnetMedian = statistics.Median / 1_000_000.0;
            var python = await RunPythonAsync(arguments.Get("python", "python3"), file, iterations, cancellationToken).ConfigureAwait(false);
            var pythonMedian = python.GetProperty("median_ms").GetDouble();
            var mib = bytes.Length / (1024.0 * 1024.0);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"impl\":\"xen-codec\",\"vms\":{vms},\"bytes\":{bytes.Length},\"iterations\":{statistics.N},\"dotnet_stddev_ms\":{statistics.StandardDeviation / 1_000_000.0:F1},\"dotnet_median_ms\":{dotnetMedian:F1},\"python_median_ms\":{pythonMedian:F1},\"dotnet_mib_s\":{mib / (dotnetMedian / 1000):F1},\"python_mib_s\":{mib / (pythonMedian / 1000):F1},\"ratio_dotnet_over_python_throughput\":{pythonMedian / dotnetMedian:F2},\"python\":\"{python.GetProperty("python").GetString()}\"}}"));
            return 0;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<JsonElement> RunPythonAsync(string python, string file, int iterations, CancellationToken cancellationToken)
    {
        var script = Path.Combine(FindRepositoryRoot(), "bench", "xmlrpc-python", "decode_bench.py");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(file);
        start.ArgumentList.Add(iterations.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {python}.");
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} exited with {process.ExitCode}.");
        }

        Console.WriteLine(output.Trim());
        using var document = JsonDocument.Parse(output);
        return document.RootElement.Clone();
    }

    internal static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Drivers.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run the benchmark from inside the repository (Drivers.sln not found above it).");
    }

    /// <summary>XenAPI-shaped VM records with realistic values: tagged, two disks and a NIC each, running.</summary>
    private static Dictionary<string, object?> AllRecords(int count)
    {
        var host = SimDatabase.NewRef();
        var records = new Dictionary<string, object?>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var memory = 64L << 20;
            records[SimDatabase.NewRef()] = SimRecords.Vm(new Dictionary<string, object?>
            {
                ["name_label"] = string.Create(CultureInfo.InvariantCulture, $"bench-vm-{i:D5}"),
                ["name_description"] = "Created by the Hypervisors SDK",
                ["power_state"] = "Running",
                ["resident_on"] = host,
                ["domid"] = (long)i + 1,
                ["memory_static_max"] = memory,
                ["memory_dynamic_max"] = memory,
                ["memory_dynamic_min"] = memory,
                ["memory_static_min"] = memory,
                ["memory_target"] = memory,
                ["VCPUs_max"] = 2L,
                ["VCPUs_at_startup"] = 2L,
                ["VBDs"] = new[] { SimDatabase.NewRef(), SimDatabase.NewRef() },
                ["VIFs"] = new[] { SimDatabase.NewRef() },
                ["consoles"] = new[] { SimDatabase.NewRef() },
                ["metrics"] = SimDatabase.NewRef(),
                ["allowed_operations"] = new[] { "changing_dynamic_range", "migrate_send", "pool_migrate", "changing_VCPUs_live", "suspend", "hard_reboot", "hard_shutdown", "clean_reboot", "clean_shutdown", "pause", "checkpoint", "snapshot" },
                ["platform"] = new Dictionary<string, string> { ["timeoffset"] = "0", ["device-model"] = "qemu-upstream-compat", ["nx"] = "true", ["acpi"] = "1", ["apic"] = "true", ["pae"] = "true", ["viridian"] = "true" },
                ["other_config"] = new Dictionary<string, string>
                {
                    ["hypervisors_instance_id"] = Guid.NewGuid().ToString("D"),
                    ["hypervisors_spec"] = InstanceSpecEnvelope.Serialize(new InstanceSpec { Id = Guid.NewGuid(), Name = "codec-bench", VCpus = 2, MemoryMiB = 2048 }),
                    ["hypervisors_meta:team"] = "platform",
                    ["base_template_name"] = "Other install media",
                    ["import_task"] = "OpaqueRef:NULL",
                    ["mac_seed"] = Guid.NewGuid().ToString("D"),
                    ["install-methods"] = "cdrom",
                },
                ["last_boot_CPU_flags"] = new Dictionary<string, string> { ["vendor"] = "GenuineIntel", ["features"] = "1fcbfbff-f7fa3223-2d93fbff-00000123-00000001-000007ab-00000000-00000000-00001000-0c000000-00000000-00000000" },
                ["snapshot_time"] = new DateTime(2024, 1, 1, 12, 0, 0, DateTimeKind.Utc),
            });
        }

        return records;
    }
}

/// <summary>The BenchmarkDotNet benchmark: decoding the response file <see cref="XenCodecBenchmark"/> wrote.</summary>
[MemoryDiagnoser]
public class XenCodecDecodeBenchmarks
{
    private byte[] _bytes = [];

    /// <summary>Where <see cref="XenCodecBenchmark"/> writes the response (one run at a time per machine user).</summary>
    public static string FilePath { get; } = Path.Combine(Path.GetTempPath(), "hypervisors-xen-codec-get-all-records.xml");

    [GlobalSetup]
    public void Load() => _bytes = File.ReadAllBytes(FilePath);

    [Benchmark]
    public int DecodeGetAllRecords() => Decode(_bytes);

    /// <summary>Decodes the XML-RPC response, unwraps the XenAPI envelope and returns the number of records.</summary>
    public static int Decode(byte[] bytes) =>
        XenValue.ToStruct(XenApiRpcClient.UnwrapEnvelope(XmlRpcReader.ReadResponse(bytes).Value)).Count;
}
