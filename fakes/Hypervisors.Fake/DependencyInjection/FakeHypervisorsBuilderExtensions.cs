using Hypervisors.Fake;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Hypervisors;

/// <summary>Registers the in-memory fake driver.</summary>
public static class FakeHypervisorsBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="FakeHypervisorDriver"/> named <paramref name="name"/>, configured by the named
    /// <see cref="FakeHypervisorOptions"/> (<paramref name="configure"/> plus any other configuration of that name).
    /// The options are validated when the host starts (<c>ValidateOnStart</c>) and again when the driver is made.
    /// The driver uses the container's <see cref="TimeProvider"/>, if one is registered, unless the options set one.
    /// </summary>
    public static HypervisorsBuilder AddFake(this HypervisorsBuilder builder, string name, Action<FakeHypervisorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        HypervisorsBuilder.ValidateDriverName(name);
        var options = builder.Services.AddOptions<FakeHypervisorOptions>(name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FakeHypervisorOptions>, FakeHypervisorOptionsValidator>());
        return builder.AddDriver(name, sp => new FakeHypervisorDriver(
            sp.GetRequiredService<IOptionsMonitor<FakeHypervisorOptions>>().Get(name), sp.GetService<TimeProvider>()));
    }
}
