using Hypervisors.Agent.Configuration;
using Hypervisors.Images;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Disks;
using Hypervisors.Images.Glance;
using Hypervisors.Images.Ovf;

namespace Hypervisors.Agent.Images;

/// <summary>The <c>Agent:Images</c> section: the host's image cache, its sources and who uses it.</summary>
public sealed class AgentImageOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = AgentOptions.SectionName + ":Images";

    /// <summary>The image cache's folder; without it the agent fetches no images (disks take host paths as before).</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>The folders whose files may be named as images (<c>debian-12.qcow2</c>, an absolute path inside one).</summary>
    public string[] AllowedImageDirectories { get; set; } = [];

    /// <summary>The Glance endpoint for <c>glance:&lt;id&gt;</c> references (<c>http://127.0.0.1:9292</c>).</summary>
    public Uri? GlanceEndpoint { get; set; }

    /// <summary>A file holding the Glance auth token; needed for an endpoint off loopback.</summary>
    public string? GlanceTokenFile { get; set; }

    /// <summary>How long an image no instance uses stays cached.</summary>
    public TimeSpan MaxUnusedAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often unused images are aged out.</summary>
    public TimeSpan EvictionInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Free space to keep on the cache's file system, in bytes.</summary>
    public long MinimumFreeBytes { get; set; } = 1L << 30;

    /// <summary>The drivers whose disks come from the cache (ESX and Xen ones get raw images, Hyper-V ones VHDX, others qcow2); empty means every libvirt driver.</summary>
    public string[] Drivers { get; set; } = [];
}

/// <summary>Wires the image cache, Glance and OVF import into the agent when <c>Agent:Images:CacheDirectory</c> is set.</summary>
internal static class AgentImages
{
    public static void AddAgentImages(this IServiceCollection services, IConfiguration configuration, IReadOnlyList<DriverDefinition> drivers)
    {
        var options = configuration.GetSection(AgentImageOptions.SectionName).Get<AgentImageOptions>() ?? new AgentImageOptions();
        if (string.IsNullOrEmpty(options.CacheDirectory))
        {
            return;
        }

        services.AddSingleton(options);
        services.AddSingleton(_ => new ImageHttp(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }));
        services.AddSingleton(provider =>
        {
            var http = provider.GetRequiredService<ImageHttp>().Client;
            var glance = options.GlanceEndpoint is { } endpoint
                ? new GlanceClient(http, new GlanceClientOptions { Endpoint = endpoint, TokenFile = options.GlanceTokenFile }, logger: provider.GetRequiredService<ILogger<GlanceClient>>())
                : null;
            return new ImageCache(
                new ImageCacheOptions { Directory = options.CacheDirectory, MaxUnusedAge = options.MaxUnusedAge, MinimumFreeBytes = options.MinimumFreeBytes },
                new ImageDirectoryAllowList(options.AllowedImageDirectories),
                glance,
                http,
                provider.GetService<System.Diagnostics.Metrics.IMeterFactory>(),
                provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILogger<ImageCache>>());
        });
        services.AddSingleton(provider => new OvfImporter(provider.GetRequiredService<ImageCache>()));
        services.AddHostedService<ImageEvictionService>();

        var imageDrivers = options.Drivers.Length > 0
            ? options.Drivers.ToHashSet(StringComparer.Ordinal)
            : drivers.Where(d => d.Kind == "libvirt").Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        // ESX uploads a raw image as a VMFS flat disk; Xen imports a raw image into a VDI (/import_raw_vdi); Hyper-V
        // places a VHDX in its image share as the parent of differencing disks; drivers on local files base qcow2
        // overlays on the cached file.
        var kinds = drivers.ToDictionary(d => d.Name, d => d.Kind, StringComparer.Ordinal);
        services.AddHypervisors(hypervisors => hypervisors.Use((name, driver, provider) => imageDrivers.Contains(name)
            ? new ImageDisksDriver(driver, provider.GetRequiredService<ImageCache>(), BaseImageFormat(kinds.GetValueOrDefault(name)),
                provider.GetRequiredService<ILogger<ImageDisksDriver>>())
            : driver));
    }

    /// <summary>The format a driver of <paramref name="kind"/> needs its base images in.</summary>
    internal static string BaseImageFormat(string? kind) => kind switch
    {
        "esx" or "xen" => "raw",
        "hyperv" => "vhdx",
        _ => "qcow2",
    };
}

/// <summary>The HTTP client image downloads use (owned by the container, disposed with it).</summary>
internal sealed class ImageHttp(HttpClient client) : IDisposable
{
    public HttpClient Client { get; } = client;

    public void Dispose() => Client.Dispose();
}

/// <summary>Ages out unused cached images every <see cref="AgentImageOptions.EvictionInterval"/>.</summary>
internal sealed class ImageEvictionService(ImageCache cache, AgentImageOptions options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await cache.RunEvictionAsync(options.EvictionInterval, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
