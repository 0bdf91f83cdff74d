using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hypervisors.HostTools;

namespace Hypervisors.Uml;

/// <summary>Runs the host tools the driver uses (iproute2 for tap devices, uml_moo for COW merges, the kernel for its version).</summary>
internal static class UmlHostTools
{
    /// <summary>Runs <paramref name="program"/> with <paramref name="arguments"/> (each passed as-is, no shell) and returns its output; throws on a non-zero exit.</summary>
    public static async Task<string> RunAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        Hypervisors.Counting.FlowCallCounter.Record("process " + Path.GetFileName(program));
        var argumentList = arguments.ToList();
        HostToolResult result;
        try
        {
            result = await HostToolProcess.RunAsync(program, argumentList, cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new UmlToolException($"Could not run {program}: {ex.Message}", null, ex);
        }

        var text = result.Output;
        if (result.ExitCode != 0)
        {
            throw new UmlToolException(
                $"{Path.GetFileName(program)} {string.Join(' ', argumentList)} failed ({result.ExitCode.ToString(CultureInfo.InvariantCulture)}): {result.Error.Trim()}{text.Trim()}",
                result.ExitCode);
        }

        return text;
    }

    /// <summary>Whether tap devices can be made here, and if not, why.</summary>
    public static (bool Supported, string Reason) ProbeTapSupport(UmlDriverOptions options)
    {
        if (!File.Exists("/dev/net/tun"))
        {
            return (false, "the host has no /dev/net/tun, so no tap device can be made");
        }

        if (NativeMethods.GetEffectiveUserId() != 0)
        {
            return (false, "making tap devices needs root (CAP_NET_ADMIN), and the driver does not run as root");
        }

        if (!File.Exists(options.IpPath))
        {
            return (false, $"iproute2's {options.IpPath} is missing");
        }

        return (true, "tap devices over /dev/net/tun, made with " + options.IpPath);
    }

    /// <summary>Makes tap device <paramref name="tap"/> (if missing), brings it up and adds it to <paramref name="bridge"/> when one is named.</summary>
    public static async Task CreateTapAsync(UmlDriverOptions options, string tap, string bridge, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Path.Combine("/sys/class/net", tap)))
        {
            await RunAsync(options.IpPath, ["tuntap", "add", "dev", tap, "mode", "tap"], cancellationToken).ConfigureAwait(false);
        }

        await RunAsync(options.IpPath, ["link", "set", "dev", tap, "up"], cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(bridge))
        {
            await RunAsync(options.IpPath, ["link", "set", "dev", tap, "master", bridge], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes tap device <paramref name="tap"/> if it exists.</summary>
    public static async Task DeleteTapAsync(UmlDriverOptions options, string tap, CancellationToken cancellationToken)
    {
        if (Directory.Exists(Path.Combine("/sys/class/net", tap)))
        {
            await RunAsync(options.IpPath, ["link", "delete", "dev", tap], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The kernel's version as <c>linux.uml --version</c> prints it.</summary>
    public static string KernelVersion(string kernel)
    {
        try
        {
            var start = new ProcessStartInfo(kernel, "--version") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start);
            if (process is null)
            {
                return "unknown";
            }

            var text = process.StandardOutput.ReadToEnd();
            process.WaitForExit(5000);
            var version = text.Trim();
            return version.Length == 0 ? "unknown" : version;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    /// <summary>Reads <c>/proc/meminfo</c> fields in MiB.</summary>
    public static (long TotalMiB, long AvailableMiB) HostMemory()
    {
        long total = 0, available = 0;
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2)
            {
                continue;
            }

            if (parts[0] == "MemTotal:")
            {
                total = long.Parse(parts[1], CultureInfo.InvariantCulture) / 1024;
            }
            else if (parts[0] == "MemAvailable:")
            {
                available = long.Parse(parts[1], CultureInfo.InvariantCulture) / 1024;
            }
        }

        return (total, available);
    }

    /// <summary>The host CPU's model name from <c>/proc/cpuinfo</c>.</summary>
    public static (string Model, string Vendor, int MHz) HostCpu()
    {
        string model = "unknown", vendor = string.Empty;
        var mhz = 0;
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (key == "model name" && model == "unknown")
            {
                model = value;
            }
            else if (key == "vendor_id" && vendor.Length == 0)
            {
                vendor = value;
            }
            else if (key == "cpu MHz" && mhz == 0 && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            {
                mhz = (int)parsed;
            }
        }

        return (model, vendor, mhz);
    }

    /// <summary>The tail of a text file, at most <paramref name="maxBytes"/> bytes.</summary>
    public static async Task<ConsoleOutput> ReadTailAsync(string path, int maxBytes, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return new ConsoleOutput(string.Empty, false);
        }

        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        await using var streamDisposal = stream.ConfigureAwait(false);
        var truncated = stream.Length > maxBytes;
        if (truncated)
        {
            stream.Seek(-maxBytes, SeekOrigin.End);
        }

        var buffer = new byte[Math.Min(maxBytes, stream.Length)];
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        return new ConsoleOutput(Encoding.UTF8.GetString(buffer, 0, read), truncated);
    }
}

/// <summary>A host tool (ip, uml_moo, cp) that could not run or failed; the driver maps it to a contract error.</summary>
internal sealed class UmlToolException(string message, int? exitCode, Exception? innerException = null) : Exception(message, innerException)
{
    public int? ExitCode { get; } = exitCode;
}
