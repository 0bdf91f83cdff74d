using Hypervisors.Agent.Fleet;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Amqp;

/// <summary>The seam between the agent and its AMQP side: registers it when <c>Agent:Amqp:Endpoints</c> is configured.</summary>
internal static class AmqpRegistration
{
    /// <summary>Adds the AMQP side and its readiness check; does nothing without endpoints. Returns whether it was added.</summary>
    public static bool AddAgentAmqp(this IServiceCollection services, IConfiguration configuration, string dataDirectory)
    {
        var section = configuration.GetSection(AmqpAgentOptions.SectionName);
        if (!section.GetSection(nameof(BrokerOptions.Endpoints)).GetChildren().Any())
        {
            return false;
        }

        services.Configure<BrokerOptions>(section);
        services.Configure<AmqpAgentOptions>(section);
        services.AddSingleton<IValidateOptions<AmqpAgentOptions>, AmqpAgentOptionsValidator>();
        services.AddSingleton(_ => new AmqpCallIndex(Path.Combine(dataDirectory, "amqp-calls.db")));
        services.AddSingleton<AmqpHealth>();
        services.AddSingleton<AmqpReplyRoute>();
        services.AddSingleton<AmqpCommandHandler>();
        services.AddSingleton<AmqpSessionFactory>();
        services.AddHostedService<AmqpAgentService>();
        services.AddHealthChecks().Add(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckRegistration(
            "amqp", provider => provider.GetRequiredService<AmqpHealth>(), null, ["ready"]));
        return true;
    }
}

/// <summary>Refuses settings the broker or the fleet cannot work with, at start.</summary>
internal sealed class AmqpAgentOptionsValidator : IValidateOptions<AmqpAgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AmqpAgentOptions options)
    {
        var host = options.EffectiveHost;
        if (host.Length > 200 || !host.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return ValidateOptionsResult.Fail($"Agent:Amqp:Host '{host}' must be 1-200 letters, digits, '-', '_' or '.'.");
        }

        if (options.DeliveryLimit < 1 || options.Prefetch < 1)
        {
            return ValidateOptionsResult.Fail("Agent:Amqp:DeliveryLimit and Agent:Amqp:Prefetch must be at least 1.");
        }

        if (options.ReportInterval <= TimeSpan.Zero || options.ProbeInterval <= TimeSpan.Zero || options.ProbeTimeout <= TimeSpan.Zero || options.SessionSetupTimeout <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail("Agent:Amqp:ReportInterval, ProbeInterval, ProbeTimeout and SessionSetupTimeout must be positive.");
        }

        return ValidateOptionsResult.Success;
    }
}
