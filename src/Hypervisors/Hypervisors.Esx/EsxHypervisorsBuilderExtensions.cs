using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Esx;

/// <summary>Registers the ESX driver with <see cref="HypervisorsBuilder"/>.</summary>
public static class EsxHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds an ESX/vCenter driver named <paramref name="name"/>:
    /// <code>services.AddHypervisors(h => h.AddEsx("vc1", o =&gt; { o.Url = new("https://vc1/sdk"); o.Credentials = ...; }));</code>
    /// The driver connects on first use.
    /// </summary>
    public static HypervisorsBuilder AddEsx(this HypervisorsBuilder builder, string name, Action<EsxDriverOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddDriver(name, sp =>
        {
            var options = new EsxDriverOptions();
            configure(options);
            return new EsxDriver(options, sp.GetService<ILoggerFactory>()?.CreateLogger<EsxDriver>());
        });
    }
}
