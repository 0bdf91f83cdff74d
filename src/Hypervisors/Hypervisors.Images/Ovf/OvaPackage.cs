using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Hypervisors.Images.Ovf;

/// <summary>Limits for reading an OVA.</summary>
public sealed class OvaReadOptions
{
    /// <summary>The largest entry accepted, in bytes (default 512 GiB).</summary>
    public long MaxEntryBytes { get; init; } = 512L << 30;

    /// <summary>The largest package content accepted, all entries together, in bytes.</summary>
    public long MaxTotalBytes { get; init; } = 1L << 40;

    /// <summary>The most entries accepted.</summary>
    public int MaxEntries { get; init; } = 64;

    /// <summary>How the descriptor is read.</summary>
    public OvfReadOptions Descriptor { get; init; } = new();
}

/// <summary>An OVA unpacked into a folder: its descriptor, read, and its files, checked against the manifest.</summary>
/// <param name="Directory">The folder holding the package's files (the caller removes it).</param>
/// <param name="DescriptorName">The .ovf entry's name.</param>
/// <param name="Envelope">The descriptor.</param>
public sealed record OvaPackage(string Directory, string DescriptorName, OvfEnvelope Envelope)
{
    /// <summary>The full path of a file of the package named by an OVF File id.</summary>
    public string PathOfFile(string fileId)
    {
        var file = Envelope.Files.FirstOrDefault(f => f.Id == fileId) ?? throw new OvfFormatException("File", 0, $"no File with ovf:id '{fileId}'.");
        return Path.Combine(Directory, file.Href);
    }
}

/// <summary>
/// Reads an OVA (a tar stream, DSP0243 clause 5.3) with <see cref="TarReader"/>: the descriptor first; entries whose
/// names hold a folder, "..", or an absolute path, links and anything but regular files refused; sizes bounded;
/// the manifest (<c>.mf</c>, SHA1 or SHA256 lines) verified against every other file, and every file the descriptor
/// references present with its declared size. A refused package leaves nothing in the target folder.
/// </summary>
public static partial class OvaReader
{
    [GeneratedRegex(@"^(SHA1|SHA256|SHA512)\s*\(([^()]+)\)\s*=\s*([0-9A-Fa-f]+)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex ManifestLine();

    /// <summary>Unpacks <paramref name="ova"/> into <paramref name="directory"/> (made, must not exist) and checks it.</summary>
    public static async Task<OvaPackage> ExtractAsync(Stream ova, string directory, OvaReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ova);
        options ??= new OvaReadOptions();
        if (System.IO.Directory.Exists(directory))
        {
            throw new ArgumentException($"'{directory}' exists; the package is unpacked into a new folder.", nameof(directory));
        }

        System.IO.Directory.CreateDirectory(directory);
        try
        {
            return await ExtractCoreAsync(ova, directory, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    private static async Task<OvaPackage> ExtractCoreAsync(Stream ova, string directory, OvaReadOptions options, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        long total = 0;
        // Read forward only, as from a download: the reader never seeks on a size taken from a header.
        var reader = new TarReader(new ForwardOnlyStream(ova), leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new OvfFormatException("package", 0, $"not a tar archive: {ex.Message}", ex);
            }

            while (entry is not null)
            {
                var name = entry.Name;
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    throw new OvfFormatException(name, 0, $"entry type {entry.EntryType} is refused; an OVA holds regular files only.");
                }

                if (name.Length == 0 || name.Length > 255 || name.StartsWith('/') || name.Contains('/', StringComparison.Ordinal) || name.Contains('\\', StringComparison.Ordinal)
                    || name is "." or ".." || name.Contains("..", StringComparison.Ordinal) || name.Any(char.IsControl))
                {
                    throw new OvfFormatException(name, 0, "entry names must be plain file names: no folders, '..' or absolute paths.");
                }

                if (names.Count == 0 && !name.EndsWith(".ovf", StringComparison.OrdinalIgnoreCase))
                {
                    throw new OvfFormatException(name, 0, "the first entry of an OVA must be its .ovf descriptor.");
                }

                if (names.Contains(name, StringComparer.Ordinal))
                {
                    throw new OvfFormatException(name, 0, "the entry appears twice.");
                }

                if (names.Count >= options.MaxEntries)
                {
                    throw new OvfFormatException(name, 0, $"the package has more than {options.MaxEntries} entries.");
                }

                if (entry.Length > options.MaxEntryBytes || entry.Length < 0)
                {
                    throw new OvfFormatException(name, 0, $"the entry is {entry.Length} bytes; the limit is {options.MaxEntryBytes}.");
                }

                total += entry.Length;
                if (total > options.MaxTotalBytes)
                {
                    throw new OvfFormatException(name, 0, $"the package holds more than {options.MaxTotalBytes} bytes.");
                }

                names.Add(name);
                var target = Path.Combine(directory, name);
                var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                await using (file.ConfigureAwait(false))
                {
                    if (entry.DataStream is { } data)
                    {
                        try
                        {
                            await data.CopyToAsync(file, 1 << 20, cancellationToken).ConfigureAwait(false);
                        }
                        catch (EndOfStreamException ex)
                        {
                            throw new OvfFormatException(name, 0, "the package ends inside this entry.", ex);
                        }
                    }

                    if (file.Length != entry.Length)
                    {
                        throw new OvfFormatException(name, 0, $"the entry declares {entry.Length} bytes but holds {file.Length}.");
                    }
                }

                try
                {
                    entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException)
                {
                    throw new OvfFormatException(name, 0, $"the package is damaged after this entry: {ex.Message}", ex);
                }
            }
        }

        if (names.Count == 0)
        {
            throw new OvfFormatException("package", 0, "the package is empty.");
        }

        var descriptorName = names[0];
        OvfEnvelope envelope;
        var descriptor = File.OpenRead(Path.Combine(directory, descriptorName));
        await using (descriptor.ConfigureAwait(false))
        {
            envelope = OvfReader.Read(descriptor, options.Descriptor);
        }

        var manifests = names.Where(n => n.EndsWith(".mf", StringComparison.OrdinalIgnoreCase)).ToList();
        if (manifests.Count > 1)
        {
            throw new OvfFormatException(manifests[1], 0, "a package has at most one manifest.");
        }

        if (manifests.Count == 1)
        {
            await VerifyManifestAsync(directory, manifests[0], names, cancellationToken).ConfigureAwait(false);
        }

        foreach (var file in envelope.Files)
        {
            var path = Path.Combine(directory, file.Href);
            if (!names.Contains(file.Href, StringComparer.Ordinal))
            {
                throw new OvfFormatException("File", 0, $"the descriptor references '{file.Href}', which the package does not hold.");
            }

            if (file.Size is { } size && new FileInfo(path).Length != size)
            {
                throw new OvfFormatException("File", 0, $"'{file.Href}' is {new FileInfo(path).Length} bytes; the descriptor declares {size}.");
            }
        }

        return new OvaPackage(directory, descriptorName, envelope);
    }

    private static async Task VerifyManifestAsync(string directory, string manifest, List<string> names, CancellationToken cancellationToken)
    {
        var lines = await File.ReadAllLinesAsync(Path.Combine(directory, manifest), cancellationToken).ConfigureAwait(false);
        var listed = new Dictionary<string, (string Algorithm, string Hex)>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                continue;
            }

            var match = ManifestLine().Match(lines[i]);
            if (!match.Success || match.Groups[3].Value.Length % 2 != 0)
            {
                throw new OvfFormatException(manifest, i + 1, "manifest lines are 'SHA1(name)= hex' or 'SHA256(name)= hex'.");
            }

            listed[match.Groups[2].Value.Trim()] = (match.Groups[1].Value, match.Groups[3].Value.ToLowerInvariant());
        }

        foreach (var name in names.Where(n => n != manifest && !n.EndsWith(".cert", StringComparison.OrdinalIgnoreCase)))
        {
            if (!listed.Remove(name, out var expected))
            {
                throw new OvfFormatException(manifest, 0, $"the manifest does not list '{name}'.");
            }

            var stream = File.OpenRead(Path.Combine(directory, name));
            byte[] actual;
            await using (stream.ConfigureAwait(false))
            {
                actual = expected.Algorithm switch
                {
                    "SHA1" => await SHA1.HashDataAsync(stream, cancellationToken).ConfigureAwait(false),
                    "SHA256" => await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false),
                    _ => await SHA512.HashDataAsync(stream, cancellationToken).ConfigureAwait(false),
                };
            }

            if (!CryptographicOperations.FixedTimeEquals(actual, Convert.FromHexString(expected.Hex)))
            {
                throw new OvfFormatException(manifest, 0, $"the {expected.Algorithm} of '{name}' does not match the manifest.");
            }
        }

        if (listed.Count > 0)
        {
            throw new OvfFormatException(manifest, 0, $"the manifest lists '{listed.Keys.First()}', which the package does not hold.");
        }
    }
}

/// <summary>A read-only view of a stream that cannot seek, so readers treat it as a download.</summary>
internal sealed class ForwardOnlyStream(Stream inner) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
