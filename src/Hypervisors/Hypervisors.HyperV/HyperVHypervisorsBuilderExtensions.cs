using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hypervisors.HyperV;

/// <summary>Registers the Hyper-V driver with <see cref="HypervisorsBuilder"/>.</summary>
public static class HyperVHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a Hyper-V driver named <paramref name="name"/>:
    /// <code>services.AddHypervisors(h => h.AddHyperV("hv1", o =&gt; { o.Host = "hv1.example"; o.Credentials = new("svc", secret); }));</code>
    /// </summary>
    public static HypervisorsBuilder AddHyperV(this HypervisorsBuilder builder, string name, Action<HyperVDriverOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddDriver(name, sp =>
        {
            var options = new HyperVDriverOptions();
            configure(options);
            return new HyperVDriver(options, sp.GetService<ILoggerFactory>()?.CreateLogger<HyperVDriver>(), sp.GetService<TimeProvider>());
        });
    }
}
