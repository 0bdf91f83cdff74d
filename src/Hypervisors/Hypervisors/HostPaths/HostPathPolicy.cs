using System.Diagnostics.CodeAnalysis;

namespace Hypervisors;

/// <summary>
/// The directories of this machine whose files a driver may hand to a hypervisor: disk images, kernels, initrds
/// and volume sources given as host paths. A path is accepted only when, after resolving <c>.</c>, <c>..</c> and
/// every symbolic link the way the kernel would, it lies strictly inside one of the allowed directories (resolved
/// the same way). Nothing is allowed until directories are configured. Every refusal carries the same message,
/// whether or not the file exists, so a caller learns nothing about the host's files outside the allowed ones.
/// </summary>
/// <remarks>
/// The check resolves links at the time of the call; whoever can create links inside an allowed directory can
/// point them anywhere, so allow only directories that callers cannot write to.
/// </remarks>
public sealed class HostPathPolicy
{
    private const int MaxLinkHops = 40;

    private IVerifiedImageStore[] _imageStores = [];

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>Creates a policy allowing the files inside <paramref name="allowedDirectories"/> (absolute paths).</summary>
    /// <exception cref="ArgumentException">An entry is empty or not an absolute path.</exception>
    public HostPathPolicy(IEnumerable<string> allowedDirectories)
    {
        ArgumentNullException.ThrowIfNull(allowedDirectories);
        var directories = new List<string>();
        foreach (var directory in allowedDirectories)
        {
            if (!IsValidDirectory(directory))
            {
                throw new ArgumentException($"An allowed host directory must be an absolute path, was '{directory}'.", nameof(allowedDirectories));
            }

            directories.Add(directory);
        }

        AllowedDirectories = directories;
    }

    /// <summary>
    /// For an options class's start-up checks: one failure per entry of <paramref name="allowedDirectories"/> that
    /// this policy would refuse, naming it as <c>{keyPrefix}:{index}</c> (<c>Drivers:kvm1:AllowedHostDirectories:0</c>).
    /// </summary>
    public static IEnumerable<string> Validate(IEnumerable<string> allowedDirectories, string keyPrefix)
    {
        ArgumentNullException.ThrowIfNull(allowedDirectories);
        var index = 0;
        foreach (var directory in allowedDirectories)
        {
            if (!IsValidDirectory(directory))
            {
                yield return $"{keyPrefix}:{index.ToString(System.Globalization.CultureInfo.InvariantCulture)}: '{directory}' is not an absolute path.";
            }

            index++;
        }
    }

    private static bool IsValidDirectory(string? directory) =>
        !string.IsNullOrWhiteSpace(directory) && Path.IsPathFullyQualified(directory) && !directory.Contains('\0', StringComparison.Ordinal);

    /// <summary>
    /// The service key under which a driver whose references are otherwise resolved by a remote host (a Hyper-V host's
    /// paths) offers the policy for the disk images of this machine it accepts:
    /// <c>GetService(typeof(HostPathPolicy), HostPathPolicy.DiskImagesKey)</c>. Such a driver offers no unkeyed
    /// policy, since its other references are no files of this machine; an image-disk decorator registers its cache
    /// with whichever of the two the driver offers.
    /// </summary>
    public const string DiskImagesKey = "disk-images";

    /// <summary>A policy that allows no host file at all (the default of every driver until configured).</summary>
    public static HostPathPolicy None { get; } = new([]);

    /// <summary>The allowed directories, as configured.</summary>
    public IReadOnlyList<string> AllowedDirectories { get; }

    /// <summary>The stores whose verified images are accepted as disk images besides the allowed directories.</summary>
    public IReadOnlyList<IVerifiedImageStore> VerifiedImageStores => Volatile.Read(ref _imageStores);

    /// <summary>
    /// Accepts, as disk image references (never as kernels, initrds or volume sources), the files
    /// <paramref name="store"/> vouches for. Meant for the code that composes a driver (an image-disk decorator
    /// registering its cache), not for anything a request controls; adding a store twice has no further effect.
    /// </summary>
    public void TrustImagesOf(IVerifiedImageStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (ReferenceEquals(this, None))
        {
            throw new InvalidOperationException("The shared policy that allows nothing cannot trust an image store; give the driver a policy of its own.");
        }

        while (true)
        {
            var current = Volatile.Read(ref _imageStores);
            if (current.Contains(store))
            {
                return;
            }

            if (ReferenceEquals(Interlocked.CompareExchange(ref _imageStores, [.. current, store], current), current))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="reference"/> names a file of this machine: an absolute or relative path, as opposed to
    /// a bare name (a VDI, a template), a datastore path (<c>[datastore1] dir/disk.vmdk</c>) or a reference with a
    /// scheme of two or more letters (<c>glance:...</c>, <c>https://...</c>).
    /// </summary>
    public static bool IsHostPath(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Length == 0 || reference[0] == '[')
        {
            return false;
        }

        var colon = reference.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 2 && reference.AsSpan(0, colon).IndexOfAny('/', '\\') < 0)
        {
            return false;
        }

        return reference[0] is '/' or '\\' or '.' or '~' || colon == 1 || reference.AsSpan().IndexOfAny('/', '\\') >= 0;
    }

    /// <summary>
    /// Returns the resolved form of <paramref name="path"/> when it lies inside an allowed directory; otherwise
    /// throws <see cref="InvalidSpecException"/> for <paramref name="field"/>.
    /// </summary>
    public string Resolve(string path, string field) =>
        TryResolve(path, out var resolved) ? resolved : throw Refusal(field);

    /// <summary>Whether <paramref name="path"/> lies inside an allowed directory, with its resolved form.</summary>
    public bool TryResolve(string? path, [NotNullWhen(true)] out string? resolved)
    {
        resolved = null;
        if (string.IsNullOrEmpty(path) || AllowedDirectories.Count == 0 || !Path.IsPathFullyQualified(path) || path.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        var candidate = Canonicalize(path);
        if (candidate is null)
        {
            return false;
        }

        foreach (var directory in AllowedDirectories)
        {
            var allowed = Canonicalize(directory);
            if (allowed is null)
            {
                continue;
            }

            var prefix = Path.EndsInDirectorySeparator(allowed) ? allowed : allowed + Path.DirectorySeparatorChar;
            if (candidate.Length > prefix.Length && candidate.StartsWith(prefix, PathComparison))
            {
                resolved = candidate;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Refuses (with <see cref="InvalidSpecException"/>) a spec naming a host file outside the allowed directories:
    /// an image reference that is a host path (<see cref="IsHostPath"/>), the kernel or the initrd.
    /// </summary>
    public void Check(InstanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            CheckDiskImage(spec.Disks[i].ImageRef, $"spec.Disks[{i}].ImageRef");
        }

        if (spec.KernelBoot is { } boot)
        {
            Resolve(boot.KernelPath, "spec.KernelBoot.KernelPath");
            if (boot.InitrdPath is not null)
            {
                Resolve(boot.InitrdPath, "spec.KernelBoot.InitrdPath");
            }
        }
    }

    /// <summary>Refuses <paramref name="reference"/> when it is a host path outside the allowed directories; bare names and references with a scheme pass.</summary>
    public void CheckReference(string? reference, string field)
    {
        if (reference is not null && IsHostPath(reference))
        {
            Resolve(reference, field);
        }
    }

    /// <summary>
    /// Refuses a disk's <paramref name="reference"/> when it is a host path that lies neither inside an allowed
    /// directory nor is an image a trusted store (<see cref="TrustImagesOf"/>) vouches for.
    /// </summary>
    public void CheckDiskImage(string? reference, string field)
    {
        if (reference is not null && IsHostPath(reference) && !TryResolve(reference, out _) && !IsVerifiedImage(reference))
        {
            throw Refusal(field);
        }
    }

    /// <summary>Whether a trusted store vouches for the file <paramref name="path"/> names once its links are resolved.</summary>
    private bool IsVerifiedImage(string path)
    {
        var stores = Volatile.Read(ref _imageStores);
        if (stores.Length == 0 || !Path.IsPathFullyQualified(path) || path.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        var resolved = Canonicalize(path);
        return resolved is not null && stores.Any(store => store.HoldsVerifiedImage(resolved));
    }

    /// <summary>The one refusal, worded the same whether or not the file exists.</summary>
    /// <remarks>The path itself is left out: the field names it, and the message is then the same for every path.</remarks>
    public static InvalidSpecException Refusal(string field) =>
        new(field, "must be a file inside a host directory this driver is allowed to use (its AllowedHostDirectories setting).");

    /// <summary>
    /// Resolves like realpath(3): each existing component's symbolic link is followed, <c>..</c> goes to the parent
    /// of what was resolved so far; components after the first missing one are taken as written. Null when a link
    /// loop or an unreadable component stops the resolution.
    /// </summary>
    private static string? Canonicalize(string path)
    {
        var root = Path.GetPathRoot(path);
        if (string.IsNullOrEmpty(root))
        {
            return null;
        }

        var pending = new LinkedList<string>(Split(path[root.Length..]));
        var current = root;
        var hops = 0;
        var missing = false;
        while (pending.First is { } node)
        {
            pending.RemoveFirst();
            var component = node.Value;
            if (component is "" or ".")
            {
                continue;
            }

            if (component == "..")
            {
                current = Path.GetDirectoryName(current) ?? root;
                continue;
            }

            var next = Path.Join(current, component);
            if (!missing)
            {
                string? target;
                try
                {
                    var info = new FileInfo(next);
                    target = info.LinkTarget;
                    missing = target is null && !info.Exists && !Directory.Exists(next);
                }
                catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
                {
                    return null;
                }

                if (target is not null)
                {
                    if (++hops > MaxLinkHops)
                    {
                        return null;
                    }

                    var targetRoot = Path.GetPathRoot(target);
                    if (!string.IsNullOrEmpty(targetRoot))
                    {
                        current = targetRoot;
                        target = target[targetRoot.Length..];
                    }

                    foreach (var part in Split(target).Reverse())
                    {
                        pending.AddFirst(part);
                    }

                    continue;
                }
            }

            current = next;
        }

        return current;
    }

    private static string[] Split(string path) => path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]);
}
