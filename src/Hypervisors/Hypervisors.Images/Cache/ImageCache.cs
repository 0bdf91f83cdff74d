using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Hypervisors.Images.Glance;
using Hypervisors.Images.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Images.Cache;

/// <summary>An image ready for a driver: the file to base a disk on and, when it lives in the cache, its entry.</summary>
/// <param name="Path">The file (a cached image, or an allowed host file already in the wanted format).</param>
/// <param name="Format">Its format.</param>
/// <param name="VirtualSize">The disk's virtual size in bytes.</param>
/// <param name="Entry">The cache entry, or null for a host file used in place.</param>
/// <param name="Downloaded">Whether this call fetched the image (a cache miss).</param>
public sealed record ResolvedImage(string Path, string Format, long VirtualSize, CachedImage? Entry, bool Downloaded);

/// <summary>
/// The host's content-addressed image cache. Entries are named by the digest the source bytes were verified
/// against and the format they were converted to. Concurrent requests for one image fetch it once; a fetch goes to a
/// temporary file, is verified and probed with qemu-img (never trusting metadata), converted when needed, and only
/// then renamed into place, so a partial or refused file is never used and never left behind. Instances hold leases
/// on the entries their disks are based on; an entry is aged out only when no lease holds it.
/// </summary>
/// <remarks>
/// As an <see cref="IVerifiedImageStore"/> the cache vouches for its complete entries (never for temporary files,
/// leases or metadata) and for the files its image allow-list lets callers name, which it uses in place when they are
/// already in the wanted format; a driver whose host-path policy trusts the cache accepts them as disk images.
/// </remarks>
public sealed partial class ImageCache : IDisposable, IVerifiedImageStore
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Hypervisors.Images";

    private static readonly JsonSerializerOptions SidecarJson = new() { WriteIndented = false };

    private readonly ImageCacheOptions _options;
    private readonly GlanceClient? _glance;
    private readonly HttpClient? _http;
    private readonly IImagePathPolicy _paths;
    private readonly QemuImgTool _qemuImg;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KeyedSingleFlight<string, CachedImage> _fetches = new(comparer: StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, (GlanceImage Image, DateTimeOffset ReusableUntil)> _glanceAnswers = new();
    private readonly SemaphoreSlim _entryLock = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _evictions;
    private readonly string _images;
    private readonly string _temporary;
    private readonly string _leases;
    private readonly string _imagesResolved;

    /// <summary>Creates the cache in <see cref="ImageCacheOptions.Directory"/> (made when missing).</summary>
    /// <param name="options">Folder, limits, programs.</param>
    /// <param name="paths">Which host files may be images.</param>
    /// <param name="glance">The Glance client for <c>glance:</c> references, or null when none is configured.</param>
    /// <param name="http">The client for <c>https:</c> references (owned by the caller), or null to refuse them.</param>
    /// <param name="meterFactory">Creates the meter; null makes one this cache owns.</param>
    /// <param name="timeProvider">The clock for ages.</param>
    /// <param name="logger">The logger.</param>
    public ImageCache(
        ImageCacheOptions options,
        IImagePathPolicy paths,
        GlanceClient? glance = null,
        HttpClient? http = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null,
        ILogger<ImageCache>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(paths);
        _options = options;
        _paths = paths;
        _glance = glance;
        _http = http;
        _qemuImg = new QemuImgTool(options.QemuImgPath, options.PrlimitPath);
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var root = Path.GetFullPath(options.Directory);
        _images = Path.Combine(root, "images");
        _temporary = Path.Combine(root, "tmp");
        _leases = Path.Combine(root, "leases");
        foreach (var directory in new[] { _images, _temporary, _leases })
        {
            System.IO.Directory.CreateDirectory(directory);
        }

        _imagesResolved = ImageDirectoryAllowList.RealPath(_images);

        var meter = meterFactory?.Create(MeterName) ?? (_ownedMeter = new Meter(MeterName));
        _hits = meter.CreateCounter<long>("hypervisors.image_cache.hits", "{request}", "Image requests served from the cache");
        _misses = meter.CreateCounter<long>("hypervisors.image_cache.misses", "{request}", "Image requests that fetched the image");
        _bytes = meter.CreateCounter<long>("hypervisors.image_cache.downloaded", "By", "Bytes downloaded into the cache");
        _evictions = meter.CreateCounter<long>("hypervisors.image_cache.evictions", "{image}", "Cached images removed (aged out or deleted)");
    }

    /// <summary>Where free space is measured; replaceable by tests.</summary>
    internal Func<string, long> FreeSpace { get; set; } = path => new DriveInfo(path).AvailableFreeSpace;

    /// <summary>The cache's folder of entries.</summary>
    public string ImagesDirectory => _images;

    /// <summary>
    /// Resolves <paramref name="reference"/> to a file in <paramref name="format"/> and, when the file is a cache
    /// entry, records that <paramref name="instanceId"/> uses it, so it is not aged out or deleted until
    /// <see cref="Release"/>. Fetches, verifies and converts on a miss.
    /// </summary>
    public async Task<ResolvedImage> AcquireAsync(ImageReference reference, string format, Guid instanceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var resolved = await ResolveAsync(reference, format, cancellationToken).ConfigureAwait(false);
        if (resolved.Entry is not { } entry)
        {
            return resolved;
        }

        await _entryLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Evicted between the fetch and here: fetch again.
            if (!File.Exists(entry.Path))
            {
                resolved = await ResolveAsync(reference, format, cancellationToken).ConfigureAwait(false);
                entry = resolved.Entry!;
            }

            await WriteLeaseAsync(entry.Name, instanceId, cancellationToken).ConfigureAwait(false);
            return resolved with { Entry = Read(entry.Name) ?? entry };
        }
        finally
        {
            _entryLock.Release();
        }
    }

    /// <summary>Records that <paramref name="instanceId"/> uses the existing <paramref name="entry"/>.</summary>
    public async Task LeaseAsync(CachedImage entry, Guid instanceId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await _entryLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!File.Exists(entry.Path))
            {
                throw new InvalidImageReferenceException(entry.Name, "the cached image was removed; import it again.");
            }

            await WriteLeaseAsync(entry.Name, instanceId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _entryLock.Release();
        }
    }

    private async Task WriteLeaseAsync(string name, Guid instanceId, CancellationToken cancellationToken)
    {
        var leases = Path.Combine(_leases, name);
        System.IO.Directory.CreateDirectory(leases);
        await File.WriteAllBytesAsync(Path.Combine(leases, instanceId.ToString("D")), [], cancellationToken).ConfigureAwait(false);
        Touch(name);
    }

    /// <summary>Fetches <paramref name="reference"/> into the cache in <paramref name="format"/> ahead of any instance (pre-cache).</summary>
    public Task<ResolvedImage> PreCacheAsync(ImageReference reference, string format, CancellationToken cancellationToken) =>
        ResolveAsync(reference, format, cancellationToken);

    /// <summary>Drops every lease <paramref name="instanceId"/> holds; returns how many.</summary>
    public int Release(Guid instanceId)
    {
        var released = 0;
        _entryLock.Wait();
        try
        {
            foreach (var directory in System.IO.Directory.EnumerateDirectories(_leases))
            {
                var lease = Path.Combine(directory, instanceId.ToString("D"));
                if (File.Exists(lease))
                {
                    File.Delete(lease);
                    released++;
                }
            }
        }
        finally
        {
            _entryLock.Release();
        }

        return released;
    }

    /// <summary>The cached images.</summary>
    public IReadOnlyList<CachedImage> List() =>
        [.. System.IO.Directory.EnumerateFiles(_images, "*.json").Select(f => Read(Path.GetFileNameWithoutExtension(f))).OfType<CachedImage>().OrderBy(e => e.Name, StringComparer.Ordinal)];

    /// <summary>Removes the entry <paramref name="name"/>; false when there is none; <see cref="ImageInUseException"/> while instances use it.</summary>
    public bool Delete(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!IsEntryName(name))
        {
            throw new InvalidImageReferenceException(name, "not the name of a cache entry (<algorithm>-<hex>.<format>).");
        }

        _entryLock.Wait();
        try
        {
            if (Read(name) is not { } entry)
            {
                return false;
            }

            if (entry.Instances.Count > 0)
            {
                throw new ImageInUseException(name, entry.Instances.Count);
            }

            Remove(name);
            _evictions.Add(1, new KeyValuePair<string, object?>("reason", "deleted"));
            return true;
        }
        finally
        {
            _entryLock.Release();
        }
    }

    /// <summary>Removes every entry no instance uses and none has used for <see cref="ImageCacheOptions.MaxUnusedAge"/>; returns their names.</summary>
    public IReadOnlyList<string> EvictUnused()
    {
        var now = _time.GetUtcNow();
        List<string> evicted = [];
        _entryLock.Wait();
        try
        {
            foreach (var entry in List())
            {
                if (entry.Instances.Count == 0 && now - entry.LastUsed >= _options.MaxUnusedAge && !_fetches.Contains(entry.Name))
                {
                    Remove(entry.Name);
                    evicted.Add(entry.Name);
                    _evictions.Add(1, new KeyValuePair<string, object?>("reason", "unused"));
                    LogEvicted(_logger, entry.Name, entry.LastUsed);
                }
            }
        }
        finally
        {
            _entryLock.Release();
        }

        return evicted;
    }

    /// <summary>Runs <see cref="EvictUnused"/> every <paramref name="interval"/> until cancelled.</summary>
    public async Task RunEvictionAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            EvictUnused();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lifetime.Cancel();
        _lifetime.Dispose();
        _entryLock.Dispose();
        _ownedMeter?.Dispose();
    }

    private async Task<ResolvedImage> ResolveAsync(ImageReference reference, string format, CancellationToken cancellationToken)
    {
        if (!ImageSafety.AllowedFormats.Contains(format))
        {
            throw new ArgumentException($"'{format}' is not a disk format the cache produces.", nameof(format));
        }

        switch (reference)
        {
            case HostFileImageReference file:
                return await ResolveHostFileAsync(file, format, cancellationToken).ConfigureAwait(false);
            case GlanceImageReference glance:
            {
                var client = _glance ?? throw new InvalidImageReferenceException(reference.Text, "no Glance endpoint is configured on this host.");
                var image = await ShowGlanceImageAsync(client, glance.ImageId, cancellationToken).ConfigureAwait(false);
                var digest = GlanceClient.ExpectedDigest(image);
                if (!string.Equals(image.ContainerFormat, "bare", StringComparison.Ordinal))
                {
                    throw new InvalidImageReferenceException(reference.Text, $"the image's container format is '{image.ContainerFormat}'; a disk needs 'bare' (import ova/ovf packages instead).");
                }

                var claimed = ImageSafety.QemuFormatOf(image.DiskFormat)
                    ?? throw new UnsafeImageException(reference.Text, $"the image's disk format '{image.DiskFormat}' is not a disk this host accepts.");
                return await GetOrFetchAsync(reference, digest, format, claimed, image.Size,
                    async (file, ct) =>
                    {
                        await client.DownloadAsync(image, file, ct).ConfigureAwait(false);
                        return file.Length;
                    },
                    cancellationToken).ConfigureAwait(false);
            }

            case DownloadImageReference download:
            {
                var http = _http ?? throw new InvalidImageReferenceException(reference.Text, "downloads over https are not enabled on this host.");
                var downloader = new VerifiedDownload(http, 5, TimeSpan.FromMilliseconds(200), _options.MaxDownloadBytes, _logger);
                return await GetOrFetchAsync(reference, download.Digest, format, null, null,
                    (file, ct) => downloader.CopyAsync(download.Text, _ => ValueTask.FromResult(new HttpRequestMessage(HttpMethod.Get, download.Location)), download.Digest, null, file, ct),
                    cancellationToken).ConfigureAwait(false);
            }

            default:
                throw new InvalidImageReferenceException(reference.Text, "unsupported image reference.");
        }
    }

    /// <summary>
    /// Glance's answer for <paramref name="imageId"/>: an active image's answer is reused for
    /// <see cref="ImageCacheOptions.GlanceMetadataReuse"/>; anything else is asked for every time.
    /// </summary>
    private async Task<GlanceImage> ShowGlanceImageAsync(GlanceClient client, Guid imageId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_glanceAnswers.TryGetValue(imageId, out var known) && now < known.ReusableUntil)
        {
            return known.Image;
        }

        var image = await client.GetImageAsync(imageId, cancellationToken).ConfigureAwait(false);
        if (image.IsActive && _options.GlanceMetadataReuse > TimeSpan.Zero)
        {
            foreach (var stale in _glanceAnswers.Where(a => a.Value.ReusableUntil <= now).Select(a => a.Key).ToList())
            {
                _glanceAnswers.TryRemove(stale, out _);
            }

            _glanceAnswers[imageId] = (image, now + _options.GlanceMetadataReuse);
        }
        else
        {
            _glanceAnswers.TryRemove(imageId, out _);
        }

        return image;
    }

    private async Task<ResolvedImage> ResolveHostFileAsync(HostFileImageReference reference, string format, CancellationToken cancellationToken)
    {
        var path = _paths.ResolveImageFile(reference.Text);
        var info = await _qemuImg.InfoAsync(path, cancellationToken).ConfigureAwait(false);
        ImageSafety.Check(reference.Text, path, info, _options.MaxVirtualSizeBytes);
        if (info.Format == format)
        {
            return new ResolvedImage(path, format, info.VirtualSize, null, false);
        }

        // Another format: converted into the cache under the file's SHA-256.
        return await ImportLocalFileAsync(path, reference, format, info.Format, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Brings a file this process made or checked itself (a disk unpacked from a verified OVA) into the cache in
    /// <paramref name="format"/>, keyed by its SHA-256; probed and checked like any download.
    /// </summary>
    internal Task<ResolvedImage> ImportFileAsync(string path, string source, string format, CancellationToken cancellationToken) =>
        ImportLocalFileAsync(path, new HostFileImageReference(source), format, null, cancellationToken);

    private async Task<ResolvedImage> ImportLocalFileAsync(string path, ImageReference reference, string format, string? probedFormat, CancellationToken cancellationToken)
    {
        ImageDigest digest;
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            var sha = await System.Security.Cryptography.SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
            ImageDigest.TryCreate("sha256", Convert.ToHexStringLower(sha), out digest!);
        }

        return await GetOrFetchAsync(reference, digest, format, probedFormat, null,
            async (file, ct) =>
            {
                var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
                await using (source.ConfigureAwait(false))
                {
                    await source.CopyToAsync(file, ct).ConfigureAwait(false);
                }

                return 0L;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public bool HoldsVerifiedImage(string resolvedPath)
    {
        ArgumentNullException.ThrowIfNull(resolvedPath);
        var name = Path.GetFileName(resolvedPath);
        if (string.Equals(Path.GetDirectoryName(resolvedPath), _imagesResolved, StringComparison.Ordinal) && IsEntryName(name))
        {
            var file = new FileInfo(resolvedPath);
            return file.Exists && file.LinkTarget is null && Read(name) is not null;
        }

        try
        {
            return string.Equals(_paths.ResolveImageFile(resolvedPath), resolvedPath, StringComparison.Ordinal);
        }
        catch (InvalidImageReferenceException)
        {
            return false;
        }
    }

    /// <summary>The cache entry whose file is <paramref name="path"/>, or null.</summary>
    public CachedImage? FindByPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        return string.Equals(Path.GetDirectoryName(full), _images, StringComparison.Ordinal) && IsEntryName(Path.GetFileName(full))
            ? Read(Path.GetFileName(full))
            : null;
    }

    /// <summary>
    /// Fetches a package (an OVA) named by <paramref name="reference"/> as verified bytes, without probing it as a
    /// disk: a Glance image must have container_format "ova". A host file is used in place; a download goes to a
    /// temporary file the returned handle deletes.
    /// </summary>
    public async Task<FetchedPackage> FetchPackageAsync(ImageReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference is HostFileImageReference file)
        {
            return new FetchedPackage(_paths.ResolveImageFile(file.Text), temporary: false);
        }

        var path = Path.Combine(_temporary, Guid.NewGuid().ToString("N") + ".ova");
        try
        {
            var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                switch (reference)
                {
                    case GlanceImageReference glance:
                    {
                        var client = _glance ?? throw new InvalidImageReferenceException(reference.Text, "no Glance endpoint is configured on this host.");
                        var image = await client.GetImageAsync(glance.ImageId, cancellationToken).ConfigureAwait(false);
                        GlanceClient.ExpectedDigest(image);
                        if (!string.Equals(image.ContainerFormat, "ova", StringComparison.Ordinal))
                        {
                            throw new InvalidImageReferenceException(reference.Text, $"the image's container format is '{image.ContainerFormat}', not 'ova'.");
                        }

                        EnsureFreeSpace(reference.Text, image.Size ?? 0);
                        await client.DownloadAsync(image, stream, cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    case DownloadImageReference download:
                    {
                        var http = _http ?? throw new InvalidImageReferenceException(reference.Text, "downloads over https are not enabled on this host.");
                        var downloader = new VerifiedDownload(http, 5, TimeSpan.FromMilliseconds(200), _options.MaxDownloadBytes, _logger);
                        await downloader.CopyAsync(download.Text, _ => ValueTask.FromResult(new HttpRequestMessage(HttpMethod.Get, download.Location)), download.Digest, null, stream, cancellationToken)
                            .ConfigureAwait(false);
                        break;
                    }

                    default:
                        throw new InvalidImageReferenceException(reference.Text, "unsupported package reference.");
                }

                _bytes.Add(stream.Length);
            }

            return new FetchedPackage(path, temporary: true);
        }
        catch
        {
            DeleteQuietly(path);
            throw;
        }
    }

    /// <summary>The folder for temporary files on the cache's file system (unpacked packages go here).</summary>
    internal string TemporaryDirectory => _temporary;

    /// <summary>A hit, or one shared fetch per entry name however many callers ask at once.</summary>
    private async Task<ResolvedImage> GetOrFetchAsync(
        ImageReference reference, ImageDigest digest, string format, string? claimedFormat, long? downloadSize,
        Func<FileStream, CancellationToken, Task<long>> fetch, CancellationToken cancellationToken)
    {
        var name = digest.CacheKey + "." + format;
        if (Read(name) is { } hit)
        {
            _hits.Add(1);
            return new ResolvedImage(hit.Path, hit.Format, hit.VirtualSize, hit, false);
        }

        var (entry, created) = await _fetches.RunAsync(name, _ => FetchAsync(reference, digest, format, claimedFormat, downloadSize, fetch, name), cancellationToken).ConfigureAwait(false);
        if (!created)
        {
            _hits.Add(1);
        }

        return new ResolvedImage(entry.Path, entry.Format, entry.VirtualSize, entry, created);
    }

    private async Task<CachedImage> FetchAsync(
        ImageReference reference, ImageDigest digest, string format, string? claimedFormat, long? downloadSize,
        Func<FileStream, CancellationToken, Task<long>> fetch, string name)
    {
        // Shared by every waiter: one caller giving up must not cancel the others' fetch.
        await Task.Yield();
        var cancellationToken = _lifetime.Token;
        _misses.Add(1);
        var download = Path.Combine(_temporary, Guid.NewGuid().ToString("N") + ".part");
        var converted = Path.Combine(_temporary, Guid.NewGuid().ToString("N") + "." + format);
        try
        {
            EnsureFreeSpace(reference.Text, downloadSize ?? 0);
            var file = new FileStream(download, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true);
            long received;
            await using (file.ConfigureAwait(false))
            {
                await fetch(file, cancellationToken).ConfigureAwait(false);
                received = file.Length;
            }

            if (reference is not HostFileImageReference)
            {
                _bytes.Add(received);
            }

            var info = await _qemuImg.InfoAsync(download, cancellationToken).ConfigureAwait(false);
            ImageSafety.Check(reference.Text, download, info, _options.MaxVirtualSizeBytes);
            if (claimedFormat is not null && info.Format != claimedFormat)
            {
                throw new UnsafeImageException(reference.Text, $"the image claims to be '{claimedFormat}' but its bytes are '{info.Format}'.");
            }

            var staged = download;
            if (info.Format != format)
            {
                EnsureFreeSpace(reference.Text, info.VirtualSize);
                await _qemuImg.ConvertAsync(download, info.Format, converted, format, cancellationToken).ConfigureAwait(false);
                File.Delete(download);
                staged = converted;
            }

            var target = Path.Combine(_images, name);
            var sidecar = new Sidecar(digest.Algorithm, digest.Hex, format, info.VirtualSize, reference.Text, _time.GetUtcNow());
            await File.WriteAllTextAsync(target + ".json.tmp", JsonSerializer.Serialize(sidecar, SidecarJson), cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(staged, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            File.Move(staged, target, overwrite: true);
            File.Move(target + ".json.tmp", target + ".json", overwrite: true);
            Touch(name);
            LogCached(_logger, reference.Text, name, received);
            return Read(name) ?? throw new HypervisorException($"The cache entry {name} vanished right after it was written.");
        }
        catch (Exception ex)
        {
            LogFetchFailed(_logger, reference.Text, ex.Message);
            throw;
        }
        finally
        {
            DeleteQuietly(download);
            DeleteQuietly(converted);
            DeleteQuietly(Path.Combine(_images, name + ".json.tmp"));
        }
    }

    private void EnsureFreeSpace(string imageRef, long bytes)
    {
        var free = FreeSpace(_temporary);
        if (free - bytes < _options.MinimumFreeBytes)
        {
            throw new ImageCacheFullException(imageRef, $"{bytes} bytes are needed and {free} are free; {_options.MinimumFreeBytes} must stay free.");
        }
    }

    private CachedImage? Read(string name)
    {
        var path = Path.Combine(_images, name);
        var sidecarPath = path + ".json";
        if (!File.Exists(path) || !File.Exists(sidecarPath))
        {
            return null;
        }

        Sidecar? sidecar;
        try
        {
            sidecar = JsonSerializer.Deserialize<Sidecar>(File.ReadAllText(sidecarPath), SidecarJson);
        }
        catch (JsonException)
        {
            return null;
        }

        if (sidecar is null || !ImageDigest.TryCreate(sidecar.Algorithm, sidecar.Hex, out var digest))
        {
            return null;
        }

        var leases = Path.Combine(_leases, name);
        IReadOnlyList<Guid> instances = System.IO.Directory.Exists(leases)
            ? [.. System.IO.Directory.EnumerateFiles(leases).Select(f => Guid.TryParse(Path.GetFileName(f), out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty)]
            : [];
        return new CachedImage(name, digest!, sidecar.Format, path, new FileInfo(path).Length, sidecar.VirtualSize, sidecar.Source,
            new DateTimeOffset(File.GetLastWriteTimeUtc(sidecarPath), TimeSpan.Zero), instances);
    }

    private void Touch(string name) => File.SetLastWriteTimeUtc(Path.Combine(_images, name + ".json"), _time.GetUtcNow().UtcDateTime);

    private void Remove(string name)
    {
        File.Delete(Path.Combine(_images, name + ".json"));
        File.Delete(Path.Combine(_images, name));
        var leases = Path.Combine(_leases, name);
        if (System.IO.Directory.Exists(leases))
        {
            System.IO.Directory.Delete(leases, recursive: true);
        }
    }

    private static bool IsEntryName(string name)
    {
        var dot = name.LastIndexOf('.');
        return dot > 0 && ImageDigest.TryParseCacheKey(name[..dot], out _) && ImageSafety.AllowedFormats.Contains(name[(dot + 1)..]);
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file is never used.
        }
    }

    /// <summary>A package fetched for import: its file, deleted on dispose when it was downloaded.</summary>
    public sealed class FetchedPackage : IDisposable
    {
        private readonly bool _temporary;

        internal FetchedPackage(string path, bool temporary)
        {
            Path = path;
            _temporary = temporary;
        }

        /// <summary>The package file.</summary>
        public string Path { get; }

        /// <inheritdoc />
        public void Dispose()
        {
            if (_temporary)
            {
                DeleteQuietly(Path);
            }
        }
    }

    private sealed record Sidecar(string Algorithm, string Hex, string Format, long VirtualSize, string Source, DateTimeOffset Created);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Information, Message = "Cached {ImageRef} as {Entry} ({Bytes} bytes fetched)")]
    private static partial void LogCached(ILogger logger, string imageRef, string entry, long bytes);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Warning, Message = "Fetching {ImageRef} failed; nothing was cached: {Reason}")]
    private static partial void LogFetchFailed(ILogger logger, string imageRef, string reason);

    [LoggerMessage(EventId = 6012, Level = LogLevel.Information, Message = "Evicted the unused cached image {Entry}, last used {LastUsed}")]
    private static partial void LogEvicted(ILogger logger, string entry, DateTimeOffset lastUsed);
}
