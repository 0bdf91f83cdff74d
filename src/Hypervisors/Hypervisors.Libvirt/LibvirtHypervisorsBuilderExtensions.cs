using Microsoft.Extensions.Configuration;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Libvirt.LibvirtDriverKind))]

namespace Hypervisors.Libvirt;

/// <summary>Registers libvirt drivers.</summary>
public static class LibvirtHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a libvirt driver under <paramref name="name"/> bound from <paramref name="section"/> (<c>Uri</c>,
    /// <c>InstanceDirectory</c>, <c>DomainType</c>, ...); the options are validated when the host starts.
    /// </summary>
    public static HypervisorsBuilder AddLibvirt(this HypervisorsBuilder builder, string name, IConfigurationSection section) =>
        builder.AddDriverOfKind<LibvirtDriverKind>(name, section);

    /// <summary>
    /// Adds a libvirt driver under <paramref name="name"/>:
    /// <code>services.AddHypervisors(h => h.AddLibvirt("kvm1", o => o.Uri = "qemu+ssh://root@kvm1/system"));</code>
    /// </summary>
    public static HypervisorsBuilder AddLibvirt(this HypervisorsBuilder builder, string name, Action<LibvirtDriverOptions> configure) =>
        new LibvirtDriverKind().AddDriver(builder, name, configure);
}

/// <summary>The <c>libvirt</c> driver kind: <c>Kind = "libvirt"</c> in a driver's configuration section.</summary>
public sealed class LibvirtDriverKind : HypervisorDriverKind<LibvirtDriverOptions>
{
    /// <inheritdoc />
    public override string Kind => "libvirt";

    /// <inheritdoc />
    protected override IHypervisorDriver Create(DriverServices services, LibvirtDriverOptions options) =>
        new LibvirtDriver(options, services.TimeProvider, services.Logger<LibvirtDriver>());
}
