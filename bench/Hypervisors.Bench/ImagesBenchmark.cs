using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Hypervisors.Images;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Disks;
using Hypervisors.Images.Glance;
using Hypervisors.Libvirt;

namespace Hypervisors.Bench;

/// <summary>
/// Images: (1) download throughput of <see cref="GlanceClient"/> (streamed to a file, sha512 verified) against
/// <c>curl</c> fetching the same image from the same local glance-api, alternating in the same run, and against
/// <c>curl | tee | sha512sum</c> (the same work: fetched, stored and hashed with the image's own algorithm); (2) the time of
/// a create from a cached Glance image (through <see cref="ImageDisksDriver"/>, a cache hit) against a create from a
/// local base file (the driver alone), both on libvirtd with QEMU, define only. Each figure is the best of its
/// interleaved rounds (the machines are shared). Prints one JSON line of ratios.
/// </summary>
internal sealed class ImagesBenchmark : IBenchmarkCommand
{
    public string Name => "images";

    public string Usage => "[--glance http://127.0.0.1:9292] [--mib 256] [--rounds 5] [--creates 10]   (Glance download vs curl; create from cache vs local file)";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var endpoint = new Uri(arguments.Get("glance", "http://127.0.0.1:9292"));
        var mib = arguments.GetInt("mib", 256);
        var rounds = arguments.GetInt("rounds", 5);
        var creates = arguments.GetInt("creates", 10);
        var work = Directory.CreateTempSubdirectory("hv-images-bench-").FullName;
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        var glance = new GlanceClient(http, new GlanceClientOptions { Endpoint = endpoint });
        var uploaded = new List<Guid>();
        try
        {
            // (1) Download throughput.
            var source = Path.Combine(work, "image.raw");
            await WriteRandomFileAsync(source, (long)mib << 20, cancellationToken).ConfigureAwait(false);
            var image = await glance.UploadFileAsync(source, new GlanceImageCreate("bench-images", "raw"), cancellationToken).ConfigureAwait(false);
            uploaded.Add(image.Id);
            var ours = new List<double>();
            var oursCpu = new List<double>();
            var curl = new List<double>();
            var curlHashed = new List<double>();
            var unverified = new List<double>();
            var target = Path.Combine(work, "download");
            for (var round = 0; round < rounds; round++)
            {
                File.Delete(target);
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                var file = new FileStream(target, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true);
                await using (file.ConfigureAwait(false))
                {
                    await glance.DownloadAsync(image, file, cancellationToken).ConfigureAwait(false);
                }

                ours.Add(watch.Elapsed.TotalSeconds);
                oursCpu.Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds);
                File.Delete(target);
                watch.Restart();
                using (var response = await http.GetAsync(new Uri(glance.Endpoint, $"v2/images/{image.Id:D}/file"), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false))
                {
                    var plain = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                    await using (plain.ConfigureAwait(false))
                    {
                        await response.Content.CopyToAsync(plain, cancellationToken).ConfigureAwait(false);
                    }
                }

                unverified.Add(watch.Elapsed.TotalSeconds);
                File.Delete(target);
                watch.Restart();
                await CurlAsync(new Uri(glance.Endpoint, $"v2/images/{image.Id:D}/file"), target, cancellationToken).ConfigureAwait(false);
                curl.Add(watch.Elapsed.TotalSeconds);
                if (new FileInfo(target).Length != image.Size)
                {
                    throw new InvalidOperationException("curl fetched a different size.");
                }

                File.Delete(target);
                watch.Restart();
                var curlDigest = await CurlHashedAsync(new Uri(glance.Endpoint, $"v2/images/{image.Id:D}/file"), target, cancellationToken).ConfigureAwait(false);
                curlHashed.Add(watch.Elapsed.TotalSeconds);
                if (!string.Equals(curlDigest, image.OsHashValue, StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException("curl | sha512sum computed another digest than Glance's os_hash_value.");
                }
            }

            var bytes = (double)image.Size!.Value;
            var oursMiBs = bytes / ours.Min() / (1 << 20);
            var curlMiBs = bytes / curl.Min() / (1 << 20);
            var curlHashedMiBs = bytes / curlHashed.Min() / (1 << 20);

            // (2) Create from the cache against create from a local file.
            double? createRatio = null;
            double? fromCacheMs = null;
            double? fromFileMs = null;
            double? acquireMs = null;
            const string bootDisk = "/var/lib/hypervisors-ci/guest/boot-disk.qcow2";
            if (LibvirtDriver.IsLibvirtAvailable() && File.Exists("/var/run/libvirt/libvirt-sock") && File.Exists(bootDisk))
            {
                var disk = await glance.UploadFileAsync(bootDisk, new GlanceImageCreate("bench-boot-disk", "qcow2"), cancellationToken).ConfigureAwait(false);
                uploaded.Add(disk.Id);
                var root = Path.Combine("/var/lib/hypervisors-ci", "image-bench-" + Guid.NewGuid().ToString("N")[..8]);
                try
                {
                    using var cache = new ImageCache(new ImageCacheOptions { Directory = Path.Combine(root, "cache"), MinimumFreeBytes = 0 }, new ImageDirectoryAllowList([]), glance);
                    // The plain driver's operator allows the folder the local base lies in; the decorated one needs no such entry.
                    var options = new LibvirtDriverOptions { Uri = "qemu:///system", DomainType = "qemu", MachineType = "pc", InstanceDirectory = Path.Combine(root, "instances") };
                    options.AllowedHostDirectories.Add(cache.ImagesDirectory);
                    await using var plain = new LibvirtDriver(options);
                    await using var cached = new ImageDisksDriver(new LibvirtDriver(options), cache);
                    var reference = "glance:" + disk.Id.ToString("D");
                    var localBase = (await cache.PreCacheAsync(ImageReference.Parse(reference), "qcow2", cancellationToken).ConfigureAwait(false)).Path;
                    var fromCache = new List<double>();
                    var fromFile = new List<double>();
                    var acquire = new List<double>();
                    for (var i = 0; i < creates + 1; i++)
                    {
                        // Alternating which goes first, so neither always follows the other's delete.
                        double a, b;
                        if (i % 2 == 0)
                        {
                            a = await TimeCreateAsync(cached, reference, cancellationToken).ConfigureAwait(false);
                            b = await TimeCreateAsync(plain, localBase, cancellationToken).ConfigureAwait(false);
                        }
                        else
                        {
                            b = await TimeCreateAsync(plain, localBase, cancellationToken).ConfigureAwait(false);
                            a = await TimeCreateAsync(cached, reference, cancellationToken).ConfigureAwait(false);
                        }

                        var holder = Guid.NewGuid();
                        var acquireWatch = Stopwatch.StartNew();
                        await cache.AcquireAsync(ImageReference.Parse(reference), "qcow2", holder, cancellationToken).ConfigureAwait(false);
                        acquire.Add(acquireWatch.Elapsed.TotalSeconds);
                        cache.Release(holder);
                        if (i > 0)
                        {
                            fromCache.Add(a);
                            fromFile.Add(b);
                        }
                    }

                    fromCacheMs = fromCache.Min() * 1000;
                    fromFileMs = fromFile.Min() * 1000;
                    createRatio = fromCache.Min() / fromFile.Min();
                    acquireMs = acquire.Min() * 1000;
                }
                finally
                {
                    Directory.Delete(root, recursive: true);
                }
            }

            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["benchmark"] = "images",
                ["image_mib"] = mib,
                ["rounds"] = rounds,
                ["download_mib_s"] = Math.Round(oursMiBs, 1),
                ["curl_mib_s"] = Math.Round(curlMiBs, 1),
                ["curl_sha512sum_mib_s"] = Math.Round(curlHashedMiBs, 1),
                ["unverified_httpclient_mib_s"] = Math.Round(bytes / unverified.Min() / (1 << 20), 1),
                ["download_vs_curl"] = Math.Round(oursMiBs / curlMiBs, 3),
                ["download_vs_curl_sha512sum"] = Math.Round(oursMiBs / curlHashedMiBs, 3),
                // The verified download's own CPU time (hashing included): under CPU contention its wall time grows
                // with the load, while curl's kernel-side copy barely does; read the ratio with these two figures.
                ["download_cpu_s_per_gib"] = Math.Round(oursCpu.Min() / (bytes / (1 << 30)), 2),
                ["load_average_1m"] = LoadAverage(),
                ["download_goal"] = ">= 0.9",
                ["create_from_cache_ms"] = fromCacheMs is null ? null : Math.Round(fromCacheMs.Value, 1),
                ["create_from_file_ms"] = fromFileMs is null ? null : Math.Round(fromFileMs.Value, 1),
                // What the cache adds to a create: resolving the reference (Glance's answer reused), the entry and its lease.
                ["cache_acquire_ms"] = acquireMs is null ? null : Math.Round(acquireMs.Value, 2),
                ["create_cache_vs_file"] = createRatio is null ? null : Math.Round(createRatio.Value, 3),
                ["create_goal"] = "<= 1.1",
            }));
            return 0;
        }
        finally
        {
            foreach (var id in uploaded)
            {
                await glance.DeleteImageAsync(id, CancellationToken.None).ConfigureAwait(false);
            }

            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<double> TimeCreateAsync(IHypervisorDriver driver, string imageRef, CancellationToken cancellationToken)
    {
        var spec = new InstanceSpec
        {
            Id = Guid.NewGuid(),
            Name = "bench-img-" + Guid.NewGuid().ToString("N")[..8],
            VCpus = 1,
            MemoryMiB = 128,
            Disks = [new DiskSpec(1, imageRef)],
        };
        var watch = Stopwatch.StartNew();
        await driver.CreateInstanceAsync(spec, cancellationToken).ConfigureAwait(false);
        var elapsed = watch.Elapsed.TotalSeconds;
        await driver.DeleteInstanceAsync(spec.Id, cancellationToken).ConfigureAwait(false);
        return elapsed;
    }

    private static async Task CurlAsync(Uri uri, string target, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("curl") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in new[] { "-sS", "-f", "-o", target, uri.AbsoluteUri })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("curl did not start.");
        var error = await process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"curl failed: {error}");
        }
    }

    // The same work as the verified download: fetched, stored and hashed while streaming. The script is fixed; the
    // address and the target are its positional arguments, never part of its text.
    private static async Task<string> CurlHashedAsync(Uri uri, string target, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-c", "set -o pipefail; curl -sS -f \"$1\" | tee \"$2\" | sha512sum", "curl-sha512sum", uri.AbsoluteUri, target })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = await process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"curl | sha512sum failed: {error}");
        }

        return (await output.ConfigureAwait(false)).Split(' ', 2)[0];
    }

    private static async Task WriteRandomFileAsync(string path, long bytes, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            for (long written = 0; written < bytes; written += buffer.Length)
            {
                Random.Shared.NextBytes(buffer);
                await file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static double? LoadAverage() =>
        File.Exists("/proc/loadavg") && double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var load)
            ? load
            : null;
}
