using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hypervisors;

/// <summary>Dependency injection entry points.</summary>
public static class HypervisorsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the hypervisor registry and lets <paramref name="configure"/> register named drivers:
    /// <code>services.AddHypervisors(h => h.AddFake("local"));</code>
    /// Calling it again adds to the same registry.
    /// </summary>
    public static IServiceCollection AddHypervisors(this IServiceCollection services, Action<HypervisorsBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var names = services.FirstOrDefault(d => d.ServiceType == typeof(DriverNameList))?.ImplementationInstance as DriverNameList;
        if (names is null)
        {
            names = new DriverNameList();
            services.AddSingleton(names);
        }

        services.TryAddSingleton<IHypervisorDriverRegistry, HypervisorDriverRegistry>();
        configure(new HypervisorsBuilder(services, names));
        return services;
    }
}
