using System.Diagnostics.Metrics;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Glance;

namespace Hypervisors.Images.Tests.Support;

/// <summary>A cache in a temporary folder with its metrics recorded; the folder is removed on dispose.</summary>
internal sealed class CacheScope : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _totals = new(StringComparer.Ordinal);

    public CacheScope(GlanceClient? glance, HttpClient? http = null, IImagePathPolicy? paths = null, TimeProvider? time = null, Action<ImageCacheOptions>? configure = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "hvcache-" + Guid.NewGuid().ToString("N")[..12]);
        var options = new ImageCacheOptions { Directory = Root, MinimumFreeBytes = 0 };
        configure?.Invoke(options);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ImageCache.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        Cache = new ImageCache(options, paths ?? new ImageDirectoryAllowList([]), glance, http, timeProvider: time);
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (_totals)
            {
                _totals[instrument.Name] = _totals.GetValueOrDefault(instrument.Name) + value;
            }
        });
        _listener.Start();
    }

    public string Root { get; }

    public ImageCache Cache { get; }

    public long Metric(string name)
    {
        lock (_totals)
        {
            return _totals.GetValueOrDefault("hypervisors.image_cache." + name);
        }
    }

    /// <summary>Every file under the cache folder (entries, sidecars, temporary files, leases).</summary>
    public IReadOnlyList<string> AllFiles() => [.. Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)];

    public void Dispose()
    {
        _listener.Dispose();
        Cache.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
