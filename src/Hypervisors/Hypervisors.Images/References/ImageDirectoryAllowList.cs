namespace Hypervisors.Images;

/// <summary>
/// Decides which host files may serve as images. The agent-hardening work brings a host-path allow-list to the core
/// package; until then (and for callers that bring their own) this interface is the seam the resolver uses.
/// </summary>
public interface IImagePathPolicy
{
    /// <summary>
    /// The full path of the existing regular file that <paramref name="nameOrPath"/> names inside an allowed directory,
    /// symbolic links resolved; throws <see cref="InvalidImageReferenceException"/> for anything else.
    /// </summary>
    string ResolveImageFile(string nameOrPath);
}

/// <summary>
/// Image files allowed only inside the operator's directories: an absolute path must lie inside one of them once
/// its symbolic links are resolved; a relative name ("debian-12.qcow2", "appliances/x.ova") is looked up in each
/// directory in order and may not contain "..".
/// </summary>
public sealed class ImageDirectoryAllowList : IImagePathPolicy
{
    private readonly IReadOnlyList<string> _directories;

    /// <summary>Allows files inside <paramref name="directories"/> (absolute paths; none allows nothing).</summary>
    public ImageDirectoryAllowList(IEnumerable<string> directories)
    {
        ArgumentNullException.ThrowIfNull(directories);
        _directories = [.. directories.Select(d =>
        {
            if (!Path.IsPathFullyQualified(d))
            {
                throw new ArgumentException($"Allowed image directory '{d}' is not an absolute path.", nameof(directories));
            }

            return WithSeparator(RealPath(Path.GetFullPath(d)));
        })];
    }

    /// <summary>The allowed directories, links resolved, each ending with a separator.</summary>
    public IReadOnlyList<string> Directories => _directories;

    /// <inheritdoc />
    public string ResolveImageFile(string nameOrPath)
    {
        ArgumentNullException.ThrowIfNull(nameOrPath);
        if (_directories.Count == 0)
        {
            throw new InvalidImageReferenceException(nameOrPath, "no image directories are allowed on this host.");
        }

        IEnumerable<string> candidates;
        if (Path.IsPathRooted(nameOrPath))
        {
            candidates = [Path.GetFullPath(nameOrPath)];
        }
        else
        {
            if (nameOrPath.Split('/', '\\').Any(segment => segment is ".." or ""))
            {
                throw new InvalidImageReferenceException(nameOrPath, "an image name may not contain '..' or empty segments.");
            }

            candidates = _directories.Select(d => Path.Combine(d, nameOrPath));
        }

        foreach (var candidate in candidates)
        {
            if (!File.Exists(candidate))
            {
                continue;
            }

            var real = RealPath(candidate);
            if (!_directories.Any(d => real.StartsWith(d, StringComparison.Ordinal)))
            {
                throw new InvalidImageReferenceException(nameOrPath, "the file is outside the allowed image directories.");
            }

            return real;
        }

        if (Path.IsPathRooted(nameOrPath) && !_directories.Any(d => Path.GetFullPath(nameOrPath).StartsWith(d, StringComparison.Ordinal)))
        {
            throw new InvalidImageReferenceException(nameOrPath, "the path is outside the allowed image directories.");
        }

        throw new InvalidImageReferenceException(nameOrPath, "no such image file in the allowed image directories.");
    }

    /// <summary>The path with every symbolic link along it resolved.</summary>
    internal static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var segment in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, segment);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            var target = info.Exists ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
            current = target is null ? next : Path.GetFullPath(target.FullName);
        }

        return current;
    }

    private static string WithSeparator(string directory) =>
        directory.EndsWith(Path.DirectorySeparatorChar) ? directory : directory + Path.DirectorySeparatorChar;
}
