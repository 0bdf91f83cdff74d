namespace Hypervisors.Uml;

/// <summary>Host paths a spec may name: only files (or folders) inside the operator's allow-listed folders.</summary>
internal static class UmlPaths
{
    /// <summary>
    /// Returns the full path of <paramref name="path"/> when it, and the target of a symbolic link there, lie inside
    /// one of <paramref name="allowed"/>; otherwise throws <see cref="InvalidSpecException"/> naming <paramref name="field"/>.
    /// </summary>
    public static string RequireAllowed(string? path, IEnumerable<string> allowed, string field, bool directory = false)
    {
        if (string.IsNullOrWhiteSpace(path) || !Path.IsPathFullyQualified(path))
        {
            throw new InvalidSpecException(field, $"must be an absolute host path, was '{path}'.");
        }

        var full = Path.GetFullPath(path);
        if (!IsInside(full, allowed))
        {
            throw new InvalidSpecException(field, $"'{full}' is outside the allowed folders ({string.Join(", ", allowed)}).");
        }

        FileSystemInfo info = directory ? new DirectoryInfo(full) : new FileInfo(full);
        if (!info.Exists)
        {
            throw new InvalidSpecException(field, $"'{full}' does not exist.");
        }

        if (info.ResolveLinkTarget(returnFinalTarget: true) is { } target && !IsInside(Path.GetFullPath(target.FullName), allowed))
        {
            throw new InvalidSpecException(field, $"'{full}' links to '{target.FullName}', outside the allowed folders.");
        }

        return full;
    }

    /// <summary>Whether <paramref name="fullPath"/> lies strictly inside one of <paramref name="folders"/>.</summary>
    public static bool IsInside(string fullPath, IEnumerable<string> folders) =>
        folders.Select(f => Path.TrimEndingDirectorySeparator(Path.GetFullPath(f)) + Path.DirectorySeparatorChar)
            .Any(prefix => fullPath.StartsWith(prefix, StringComparison.Ordinal));
}
