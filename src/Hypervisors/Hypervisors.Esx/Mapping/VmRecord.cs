using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml.Linq;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Mapping;

/// <summary>The create request as the driver stores it in the VM's <c>extraConfig</c>, for idempotent creates and metadata.</summary>
internal sealed record StoredSpec(Guid Id, string Name, int VCpus, long MemoryMiB, IReadOnlyList<DiskSpec> Disks,
    IReadOnlyList<NetworkInterfaceSpec> NetworkInterfaces, IReadOnlyDictionary<string, string> Metadata, bool StartAfterCreate)
{
    public static StoredSpec From(InstanceSpec spec) =>
        new(spec.Id, spec.Name, spec.VCpus, spec.MemoryMiB, spec.Disks, spec.NetworkInterfaces, spec.Metadata, spec.StartAfterCreate);

    public InstanceSpec ToSpec() => new()
    {
        Id = Id,
        Name = Name,
        VCpus = VCpus,
        MemoryMiB = MemoryMiB,
        Disks = Disks,
        NetworkInterfaces = NetworkInterfaces,
        Metadata = Metadata,
        StartAfterCreate = StartAfterCreate,
    };

    public string ToJson() => JsonSerializer.Serialize(this, EsxJsonContext.Default.StoredSpec);

    public static StoredSpec? FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(json, EsxJsonContext.Default.StoredSpec);
        }
        catch (JsonException)
        {
            return null; // edited by hand; the VM is still ours by its id key
        }
    }
}

[JsonSerializable(typeof(StoredSpec))]
internal sealed partial class EsxJsonContext : JsonSerializerContext;

/// <summary>A VM as the driver reads it: the properties of <see cref="Paths"/> decoded.</summary>
internal sealed record VmRecord(ManagedObjectReference Vm, Guid? Id, string Name, PowerState PowerState, int VCpus, long MemoryMiB,
    string? InstanceUuid, IReadOnlyDictionary<string, string> ExtraConfig)
{
    /// <summary>extraConfig key holding the instance id.</summary>
    public const string IdKey = "hypervisors.id";

    /// <summary>extraConfig key holding the create request.</summary>
    public const string SpecKey = "hypervisors.spec";

    /// <summary>extraConfig key prefix of volume attachments ("hypervisors.volume.&lt;bus&gt;.&lt;unit&gt;").</summary>
    public const string VolumeKeyPrefix = "hypervisors.volume.";

    /// <summary>The properties listing and get read, in one round trip.</summary>
    public static readonly string[] Paths =
        ["name", "runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB", "config.instanceUuid", "config.extraConfig"];

    /// <summary>The properties a power operation checks first.</summary>
    public static readonly string[] StatePaths = ["runtime.powerState", "config.instanceUuid"];

    public StoredSpec? Spec => StoredSpec.FromJson(ExtraConfig.GetValueOrDefault(SpecKey));

    public InstanceInfo ToInfo(Guid id) => new(id, Name, PowerState, VCpus, MemoryMiB, TimeSpan.Zero)
    {
        NativeId = Vm.Value,
        Metadata = Spec?.Metadata ?? new Dictionary<string, string>(),
    };

    public static VmRecord Read(ObjectContent content)
    {
        var extra = ReadExtraConfig(content.Properties.GetValueOrDefault("config.extraConfig"));
        Guid? id = Guid.TryParse(extra.GetValueOrDefault(IdKey), out var parsed) ? parsed : null;
        return new VmRecord(
            content.Obj,
            id,
            content.Text("name") ?? string.Empty,
            PowerStateMapping.FromVim(content.Text("runtime.powerState")) ?? PowerState.NoState,
            int.TryParse(content.Text("config.hardware.numCPU"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var cpus) ? cpus : 0,
            long.TryParse(content.Text("config.hardware.memoryMB"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var mem) ? mem : 0,
            content.Text("config.instanceUuid"),
            extra);
    }

    /// <summary>Reads an <c>ArrayOfOptionValue</c>; later entries win and an empty value removes the key, as on vSphere.</summary>
    public static Dictionary<string, string> ReadExtraConfig(XElement? array)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (array is null)
        {
            return result;
        }

        foreach (var option in array.Elements())
        {
            var key = option.ChildText("key");
            if (key is null)
            {
                continue;
            }

            var value = option.ChildText("value") ?? string.Empty;
            if (value.Length == 0)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = value;
            }
        }

        return result;
    }
}
