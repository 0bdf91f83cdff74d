using System.Globalization;
using System.Xml.Linq;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Mapping;

/// <summary>A VM as the driver reads it: the properties of <see cref="Paths"/> decoded.</summary>
internal sealed record VmRecord(ManagedObjectReference Vm, Guid? Id, string Name, PowerState PowerState, int VCpus, long MemoryMiB,
    string? InstanceUuid, IReadOnlyDictionary<string, string> ExtraConfig)
{
    /// <summary>extraConfig key holding the instance id.</summary>
    public const string IdKey = "hypervisors.id";

    /// <summary>extraConfig key holding the create request, as an <see cref="InstanceSpecEnvelope"/>.</summary>
    public const string SpecKey = "hypervisors.spec";

    /// <summary>extraConfig key prefix of volume attachments ("hypervisors.volume.&lt;bus&gt;.&lt;unit&gt;").</summary>
    public const string VolumeKeyPrefix = "hypervisors.volume.";

    /// <summary>The properties listing and get read, in one round trip.</summary>
    public static readonly string[] Paths =
        ["name", "runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB", "config.instanceUuid", "config.extraConfig"];

    /// <summary>The properties a power operation checks first.</summary>
    public static readonly string[] StatePaths = ["runtime.powerState", "config.instanceUuid"];

    /// <summary>The spec the VM was created from (<see cref="InstanceSpecEnvelope"/>), or null when it has none the driver can read.</summary>
    public InstanceSpec? Spec => InstanceSpecEnvelope.TryDeserialize(ExtraConfig.GetValueOrDefault(SpecKey), out var spec) ? spec : null;

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
