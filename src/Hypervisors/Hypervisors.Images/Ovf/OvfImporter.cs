using Hypervisors.Images.Cache;

namespace Hypervisors.Images.Ovf;

/// <summary>What to import: the package and the choices DSP0243 leaves to the deployer.</summary>
public sealed record OvfImportRequest
{
    /// <summary>The OVA as an image reference (<c>glance:&lt;id&gt;</c> with container_format ova, https with a digest, or an allowed host file).</summary>
    public required string Package { get; init; }

    /// <summary>The deployment option; null takes the descriptor's default.</summary>
    public string? DeploymentOption { get; init; }

    /// <summary>The host network for each OVF network name the adapters connect to.</summary>
    public IReadOnlyDictionary<string, string> NetworkMapping { get; init; } = new Dictionary<string, string>();

    /// <summary>Values for user-configurable ProductSection properties, by full key.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();

    /// <summary>Prefixed to each VirtualSystem's name to form the instance name; null uses the names as they are.</summary>
    public string? NamePrefix { get; init; }
}

/// <summary>
/// Imports an OVA: fetches and verifies the package, unpacks it (<see cref="OvaReader"/>), reads its descriptor for
/// the chosen deployment option, converts each disk into the image cache, and returns one <see cref="InstanceSpec"/>
/// per VirtualSystem whose disks are based on the cached images. Create the specs through an
/// <see cref="Disks.ImageDisksDriver"/> so each instance holds its images. ProductSection property values land in the
/// instance metadata as <c>ovf:&lt;key&gt;</c>.
/// </summary>
public sealed class OvfImporter(ImageCache cache, string diskFormat = "qcow2")
{
    private const long GiB = 1L << 30;

    /// <summary>Reads the package and prepares the instances; nothing is created yet.</summary>
    public async Task<IReadOnlyList<InstanceSpec>> PrepareAsync(OvfImportRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var reference = ImageReference.Parse(request.Package);
        using var package = await cache.FetchPackageAsync(reference, cancellationToken).ConfigureAwait(false);
        var directory = Path.Combine(cache.TemporaryDirectory, Guid.NewGuid().ToString("N") + ".unpacked");
        try
        {
            OvaPackage ova;
            var stream = new FileStream(package.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                ova = await OvaReader.ExtractAsync(stream, directory, new OvaReadOptions { Descriptor = new OvfReadOptions { DeploymentOption = request.DeploymentOption } }, cancellationToken)
                    .ConfigureAwait(false);
            }

            var specs = new List<InstanceSpec>();
            foreach (var system in ova.Envelope.VirtualSystems)
            {
                specs.Add(await SpecForAsync(request, ova, system, cancellationToken).ConfigureAwait(false));
            }

            return specs;
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private async Task<InstanceSpec> SpecForAsync(OvfImportRequest request, OvaPackage ova, OvfVirtualSystem system, CancellationToken cancellationToken)
    {
        var disks = new List<DiskSpec>();
        foreach (var drive in system.DiskDrives)
        {
            var disk = ova.Envelope.Disks.First(d => d.DiskId == drive.DiskId);
            var sizeGiB = Math.Max(1, (disk.CapacityBytes + GiB - 1) / GiB);
            if (disk.FileRef is null)
            {
                disks.Add(new DiskSpec(sizeGiB));
                continue;
            }

            var image = await cache.ImportFileAsync(ova.PathOfFile(disk.FileRef), $"{request.Package}#{disk.DiskId}", diskFormat, cancellationToken).ConfigureAwait(false);
            disks.Add(new DiskSpec(sizeGiB, image.Path));
        }

        var nics = new List<NetworkInterfaceSpec>();
        foreach (var adapter in system.NetworkAdapters)
        {
            var network = adapter.Connection is null ? null : request.NetworkMapping.GetValueOrDefault(adapter.Connection);
            if (network is null)
            {
                throw new InvalidSpecException("networkMapping", $"VirtualSystem '{system.Id}' connects to the OVF network '{adapter.Connection}'; map it to a host network.");
            }

            nics.Add(new NetworkInterfaceSpec(network, adapter.MacAddress));
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["ovf:system"] = system.Id };
        foreach (var (key, value) in request.Properties)
        {
            var property = system.Properties.FirstOrDefault(p => p.Key == key);
            if (property is null && ova.Envelope.VirtualSystems.Any(s => s.Properties.Any(p => p.Key == key)))
            {
                continue;
            }

            if (property is null || !property.UserConfigurable)
            {
                throw new InvalidSpecException("properties", $"'{key}' is not a user-configurable property of the package.");
            }
        }

        foreach (var property in system.Properties)
        {
            if ((request.Properties.GetValueOrDefault(property.Key) ?? property.DefaultValue) is { } value)
            {
                metadata["ovf:" + property.Key] = value;
            }
        }

        return new InstanceSpec
        {
            Id = Guid.NewGuid(),
            Name = InstanceName(request.NamePrefix, system.Name ?? system.Id),
            VCpus = system.VCpus,
            MemoryMiB = system.MemoryMiB,
            Disks = disks,
            NetworkInterfaces = nics,
            Metadata = metadata,
        };
    }

    /// <summary>A valid instance name (letters, digits, '.', '-', '_', at most 63) from the prefix and the system's name.</summary>
    private static string InstanceName(string? prefix, string name)
    {
        var cleaned = new string([.. (prefix + name).Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-')]);
        return cleaned.Length > 63 ? cleaned[..63] : cleaned;
    }
}
