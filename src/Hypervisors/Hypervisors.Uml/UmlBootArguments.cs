using System.Globalization;

namespace Hypervisors.Uml;

/// <summary>
/// The kernel arguments of an instance. The driver owns the arguments that tie the kernel to its state directory and
/// devices (umid, uml_dir, mem, mconsole, consoles, ubd and vector devices, hostfs root, initrd); a spec's command line
/// may add any other kernel argument (root=, init=, rootfstype=, quiet, ...) and may name a <c>hostfs=</c> root inside
/// the allowed image folders. Without one the driver confines hostfs to an empty folder, so a guest never sees the
/// host's files.
/// </summary>
internal static class UmlBootArguments
{
    public const string CommandLineField = "spec.KernelBoot.CommandLine";

    // Kernel arguments a spec may not set: they would escape the driver's bookkeeping or the host path allow-list.
    private static readonly string[] ReservedPrefixes =
        ["umid=", "uml_dir=", "mem=", "mconsole=", "con", "ssl", "ubd", "vec", "eth", "initrd=", "iomem=", "hostfs=", "tty_log", "virtio_uml", "time-travel"];

    /// <summary>Splits and checks a spec's command line; returns its arguments with a hostfs root if it named an allowed one.</summary>
    public static (IReadOnlyList<string> Arguments, string? HostfsRoot) ParseCommandLine(string? commandLine, IEnumerable<string> allowedImageDirectories, string field = CommandLineField)
    {
        var arguments = new List<string>();
        string? hostfs = null;
        foreach (var token in (commandLine ?? string.Empty).Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.Any(char.IsControl))
            {
                throw new InvalidSpecException(field, "must not hold control characters.");
            }

            if (token.StartsWith('-'))
            {
                throw new InvalidSpecException(field, $"'{token}' is an option of the linux.uml program, not a kernel argument.");
            }

            if (token.StartsWith("hostfs=", StringComparison.Ordinal))
            {
                hostfs = UmlPaths.RequireAllowed(token["hostfs=".Length..], allowedImageDirectories, field, directory: true);
                continue;
            }

            if (ReservedPrefixes.Any(p => token.StartsWith(p, StringComparison.Ordinal)))
            {
                throw new InvalidSpecException(field, $"'{token}' sets an argument the driver owns (umid, uml_dir, mem, mconsole, consoles, ubd and vector devices, initrd).");
            }

            arguments.Add(token);
        }

        return (arguments, hostfs);
    }

    /// <summary>Every argument of one boot, in order: the driver's own, then the defaults, then the spec's.</summary>
    public static IReadOnlyList<string> Build(UmlInstanceRecord record, UmlDriverOptions options, string runDirectory, string notifySocket, string emptyHostfsRoot)
    {
        var spec = record.Spec;
        var (defaults, defaultHostfs) = ParseCommandLine(options.DefaultCommandLine, options.AllowedImageDirectories, nameof(UmlDriverOptions.DefaultCommandLine));
        var (own, ownHostfs) = ParseCommandLine(spec.KernelBoot?.CommandLine, options.AllowedImageDirectories);
        var arguments = new List<string>
        {
            "umid=" + spec.Id.ToString("D"),
            "uml_dir=" + runDirectory,
            "mem=" + spec.MemoryMiB.ToString(CultureInfo.InvariantCulture) + "M",
            "mconsole=notify:" + notifySocket,
            "con=null",
            "con0=fd:0,fd:1",
            "ssl=null",
            "hostfs=" + (ownHostfs ?? defaultHostfs ?? emptyHostfsRoot),
        };

        if (spec.KernelBoot?.InitrdPath is { } initrd)
        {
            arguments.Add("initrd=" + initrd);
        }

        foreach (var disk in record.Disks)
        {
            arguments.Add(UbdArgument(disk.Index, readOnly: false, disk.File, disk.Backing));
        }

        foreach (var volume in record.Volumes)
        {
            arguments.Add(UbdArgument(volume.Index, volume.ReadOnly, volume.Source, backing: null));
        }

        foreach (var nic in record.Interfaces)
        {
            arguments.Add(VectorArgument(nic));
        }

        arguments.AddRange(defaults);
        arguments.AddRange(own);
        return arguments;
    }

    /// <summary><c>ubdN[r]=file[,backing]</c>: a COW layer over a backing image when <paramref name="backing"/> is set.</summary>
    public static string UbdArgument(int index, bool readOnly, string file, string? backing) =>
        "ubd" + index.ToString(CultureInfo.InvariantCulture) + (readOnly ? "r" : string.Empty) + "=" + file + (backing is null ? string.Empty : "," + backing);

    /// <summary><c>vecN:transport=tap,ifname=TAP,mac=MAC</c>: the vector driver over a tap device.</summary>
    public static string VectorArgument(UmlInterface nic) =>
        nic.Device + ":transport=tap,ifname=" + nic.Tap + ",mac=" + nic.MacAddress;
}
