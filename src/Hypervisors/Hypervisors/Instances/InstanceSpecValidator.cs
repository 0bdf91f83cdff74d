using System.Buffers;
using System.Globalization;

namespace Hypervisors;

/// <summary>
/// Validates requests before any driver sees them. Every failure is an <see cref="InvalidSpecException"/>
/// whose <see cref="InvalidSpecException.Field"/> names the field, e.g. <c>spec.Disks[1].SizeGiB</c>.
/// </summary>
public static class InstanceSpecValidator
{
    /// <summary>Longest instance name; libvirt, vSphere, XenAPI and Hyper-V all accept it.</summary>
    public const int MaxNameLength = 63;

    /// <summary>Most vCPUs an instance may ask for.</summary>
    public const int MaxVCpus = 1024;

    /// <summary>Least memory an instance may ask for, in MiB.</summary>
    public const long MinMemoryMiB = 16;

    /// <summary>Most memory an instance may ask for, in MiB (16 TiB).</summary>
    public const long MaxMemoryMiB = 16L * 1024 * 1024;

    /// <summary>Most disks or interfaces in one spec.</summary>
    public const int MaxDevices = 64;

    private static readonly SearchValues<char> NameChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");

    /// <summary>Throws <see cref="InvalidSpecException"/> if <paramref name="spec"/> is not valid.</summary>
    public static void Validate(InstanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ValidateInstanceId(spec.Id, "spec.Id");
        ValidateName(spec.Name, "spec.Name");
        if (spec.VCpus is < 1 or > MaxVCpus)
        {
            throw new InvalidSpecException("spec.VCpus", $"must be between 1 and {MaxVCpus}, was {spec.VCpus}.");
        }

        if (spec.MemoryMiB is < MinMemoryMiB or > MaxMemoryMiB)
        {
            throw new InvalidSpecException("spec.MemoryMiB", $"must be between {MinMemoryMiB} and {MaxMemoryMiB}, was {spec.MemoryMiB}.");
        }

        if (spec.Disks is null)
        {
            throw new InvalidSpecException("spec.Disks", "must not be null.");
        }

        if (spec.Disks.Count > MaxDevices)
        {
            throw new InvalidSpecException("spec.Disks", $"at most {MaxDevices} disks, was {spec.Disks.Count}.");
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i] ?? throw new InvalidSpecException($"spec.Disks[{i}]", "must not be null.");
            if (disk.SizeGiB is < 1 or > 64 * 1024)
            {
                throw new InvalidSpecException($"spec.Disks[{i}].SizeGiB", $"must be between 1 and 65536, was {disk.SizeGiB}.");
            }

            if (disk.ImageRef is not null)
            {
                ValidateText(disk.ImageRef, $"spec.Disks[{i}].ImageRef", 4096);
            }
        }

        if (spec.NetworkInterfaces is null)
        {
            throw new InvalidSpecException("spec.NetworkInterfaces", "must not be null.");
        }

        if (spec.NetworkInterfaces.Count > MaxDevices)
        {
            throw new InvalidSpecException("spec.NetworkInterfaces", $"at most {MaxDevices} interfaces, was {spec.NetworkInterfaces.Count}.");
        }

        var macs = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < spec.NetworkInterfaces.Count; i++)
        {
            var nic = spec.NetworkInterfaces[i] ?? throw new InvalidSpecException($"spec.NetworkInterfaces[{i}]", "must not be null.");
            ValidateInterface(nic, $"spec.NetworkInterfaces[{i}]");
            if (nic.MacAddress is not null && !macs.Add(NormalizeMac(nic.MacAddress)))
            {
                throw new InvalidSpecException($"spec.NetworkInterfaces[{i}].MacAddress", $"'{nic.MacAddress}' is used by another interface.");
            }
        }

        if (spec.KernelBoot is { } boot)
        {
            ValidateAbsolutePath(boot.KernelPath, "spec.KernelBoot.KernelPath");
            if (boot.InitrdPath is not null)
            {
                ValidateAbsolutePath(boot.InitrdPath, "spec.KernelBoot.InitrdPath");
            }

            ValidateText(boot.CommandLine ?? throw new InvalidSpecException("spec.KernelBoot.CommandLine", "must not be null."),
                "spec.KernelBoot.CommandLine", 2048, allowEmpty: true);
        }

        if (spec.Metadata is null)
        {
            throw new InvalidSpecException("spec.Metadata", "must not be null.");
        }

        if (spec.Metadata.Count > 128)
        {
            throw new InvalidSpecException("spec.Metadata", $"at most 128 entries, was {spec.Metadata.Count}.");
        }

        foreach (var (key, value) in spec.Metadata)
        {
            ValidateText(key, "spec.Metadata key", 64);
            ValidateText(value ?? throw new InvalidSpecException($"spec.Metadata[{key}]", "must not be null."),
                $"spec.Metadata[{key}]", 1024, allowEmpty: true);
        }
    }

    /// <summary>Throws unless <paramref name="id"/> is a usable instance id.</summary>
    public static void ValidateInstanceId(Guid id, string field = "instanceId")
    {
        if (id == Guid.Empty)
        {
            throw new InvalidSpecException(field, "must not be the empty UUID.");
        }
    }

    /// <summary>Throws unless <paramref name="name"/> is a valid instance name.</summary>
    public static void ValidateName(string? name, string field)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidSpecException(field, "must not be empty.");
        }

        if (name.Length > MaxNameLength)
        {
            throw new InvalidSpecException(field, $"at most {MaxNameLength} characters, was {name.Length}.");
        }

        var bad = name.AsSpan().IndexOfAnyExcept(NameChars);
        if (bad >= 0)
        {
            throw new InvalidSpecException(field, $"may hold only letters, digits, '.', '-' and '_'; character {bad} is '{name[bad]}'.");
        }

        if (name[0] is '.' or '-')
        {
            throw new InvalidSpecException(field, "must not start with '.' or '-'.");
        }
    }

    /// <summary>Throws unless <paramref name="nic"/> is valid.</summary>
    public static void ValidateInterface(NetworkInterfaceSpec nic, string field = "networkInterface")
    {
        ArgumentNullException.ThrowIfNull(nic);
        ValidateText(nic.Network, field + ".Network", 255);
        if (nic.MacAddress is not null && !TryNormalizeMac(nic.MacAddress, out _))
        {
            throw new InvalidSpecException(field + ".MacAddress", $"'{nic.MacAddress}' is not six colon-separated hex pairs.");
        }

        if (nic.MacAddress is not null && (Convert.ToByte(nic.MacAddress[..2], 16) & 1) == 1)
        {
            throw new InvalidSpecException(field + ".MacAddress", $"'{nic.MacAddress}' is a multicast address.");
        }
    }

    /// <summary>Throws unless <paramref name="volume"/> is valid.</summary>
    public static void ValidateVolume(VolumeSpec volume, string field = "volume")
    {
        ArgumentNullException.ThrowIfNull(volume);
        ValidateDeviceId(volume.VolumeId, field + ".VolumeId");
        ValidateText(volume.Source, field + ".Source", 4096);
    }

    /// <summary>Throws unless <paramref name="id"/> is a valid volume or snapshot id or name.</summary>
    public static void ValidateDeviceId(string? id, string field)
    {
        ValidateText(id, field, 255);
    }

    /// <summary>Normalizes a MAC address to lower-case colon form, throwing if it is not one.</summary>
    public static string NormalizeMac(string mac) =>
        TryNormalizeMac(mac, out var normalized) ? normalized : throw new InvalidSpecException("macAddress", $"'{mac}' is not six colon-separated hex pairs.");

    /// <summary>Normalizes a MAC address ("52:54:00:AB:CD:EF" or with '-') to lower-case colon form.</summary>
    public static bool TryNormalizeMac(string? mac, out string normalized)
    {
        normalized = string.Empty;
        if (mac is null || mac.Length != 17)
        {
            return false;
        }

        Span<char> buffer = stackalloc char[17];
        for (var i = 0; i < 17; i++)
        {
            var c = mac[i];
            if (i % 3 == 2)
            {
                if (c is not (':' or '-'))
                {
                    return false;
                }

                buffer[i] = ':';
            }
            else
            {
                if (!char.IsAsciiHexDigit(c))
                {
                    return false;
                }

                buffer[i] = char.ToLowerInvariant(c);
            }
        }

        normalized = new string(buffer);
        return true;
    }

    private static void ValidateAbsolutePath(string? path, string field)
    {
        ValidateText(path, field, 4096);
        if (!path!.StartsWith('/') && !(path.Length > 2 && path[1] == ':'))
        {
            throw new InvalidSpecException(field, $"must be an absolute path, was '{path}'.");
        }
    }

    private static void ValidateText(string? value, string field, int maxLength, bool allowEmpty = false)
    {
        if (value is null || (!allowEmpty && value.Length == 0))
        {
            throw new InvalidSpecException(field, "must not be empty.");
        }

        if (value.Length > maxLength)
        {
            throw new InvalidSpecException(field, $"at most {maxLength.ToString(CultureInfo.InvariantCulture)} characters, was {value.Length.ToString(CultureInfo.InvariantCulture)}.");
        }

        foreach (var c in value)
        {
            if (char.IsControl(c))
            {
                throw new InvalidSpecException(field, $"must not hold control characters (U+{(int)c:X4}).");
            }
        }
    }
}
