using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors;

/// <summary>Adds the built-in decorators to every registered driver.</summary>
public static class HypervisorsBuilderMiddlewareExtensions
{
    /// <summary>Wraps every driver in a <see cref="LoggingHypervisorDriver"/> logging through the container's <see cref="ILoggerFactory"/>.</summary>
    public static HypervisorsBuilder UseLogging(this HypervisorsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((name, inner, services) =>
        {
            var factory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            return new LoggingHypervisorDriver(inner, factory.CreateLogger<LoggingHypervisorDriver>(), name);
        });
    }

    /// <summary>Wraps every driver in an <see cref="OpenTelemetryHypervisorDriver"/> (activity source and meter "Hypervisors").</summary>
    public static HypervisorsBuilder UseOpenTelemetry(this HypervisorsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((name, inner, _) => new OpenTelemetryHypervisorDriver(inner, name));
    }
}
