using Microsoft.Extensions.DependencyInjection;

namespace Hypervisors.Libvirt;

/// <summary>Registers libvirt drivers.</summary>
public static class LibvirtHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a libvirt driver under <paramref name="name"/>:
    /// <code>services.AddHypervisors(h => h.AddLibvirt("kvm1", o => o.Uri = "qemu+ssh://root@kvm1/system"));</code>
    /// </summary>
    public static HypervisorsBuilder AddLibvirt(this HypervisorsBuilder builder, string name, Action<LibvirtDriverOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new LibvirtDriverOptions();
        configure(options);

        // Check the URI now, not on first use.
        _ = LibvirtUriProfile.From(options.Uri, options.IsLocalHost);
        return builder.AddDriver(name, sp => new LibvirtDriver(options, sp.GetService<TimeProvider>()));
    }
}
