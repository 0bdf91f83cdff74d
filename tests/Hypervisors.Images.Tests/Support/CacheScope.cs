using System.Diagnostics.Metrics;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Glance;

namespace Hypervisors.Images.Tests.Support;

/// <summary>A cache in a temporary folder with its metrics recorded; the folder is removed on dispose.</summary>
internal sealed class CacheScope : IDisposable, IMeterFactory
{
    private readonly MeterListener _listener = new();
    private readonly List<Meter> _meters = [];
    private readonly Dictionary<string, long> _totals = new(StringComparer.Ordinal);

    public CacheScope(GlanceClient? glance, HttpClient? http = null, IImagePathPolicy? paths = null, TimeProvider? time = null, Action<ImageCacheOptions>? configure = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "hvcache-" + Guid.NewGuid().ToString("N")[..12]);
        var options = new ImageCacheOptions { Directory = Root, MinimumFreeBytes = 0 };
        configure?.Invoke(options);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this scope's cache: tests running beside it have caches with the same meter name.
            if (instrument.Meter.Name == ImageCache.MeterName && ReferenceEquals(instrument.Meter.Scope, this))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        Cache = new ImageCache(options, paths ?? new ImageDirectoryAllowList([]), glance, http, timeProvider: time, meterFactory: this);
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

    Meter IMeterFactory.Create(MeterOptions options)
    {
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        lock (_meters)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    public void Dispose()
    {
        _listener.Dispose();
        Cache.Dispose();
        lock (_meters)
        {
            _meters.ForEach(meter => meter.Dispose());
        }

        Directory.Delete(Root, recursive: true);
    }
}
