using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Xen;

/// <summary>Registers <see cref="XenDriver"/> with <see cref="HypervisorsBuilder"/>.</summary>
public static class XenHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a Xen driver named <paramref name="name"/>:
    /// <code>services.AddHypervisors(h => h.AddXen("pool1", o => { o.Url = new("https://xcp/"); o.UseCredentials("root", secret); }));</code>
    /// The options are validated when the driver is first resolved.
    /// </summary>
    public static HypervisorsBuilder AddXen(this HypervisorsBuilder builder, string name, Action<XenDriverOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddDriver(name, services =>
        {
            var options = new XenDriverOptions();
            configure(options);
            return new XenDriver(options, services.GetService<ILogger<XenDriver>>(), services.GetService<TimeProvider>());
        });
    }
}
