using Hypervisors.Agent.Amqp;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Operations;
using Hypervisors.Agent.Security;
using Hypervisors.Agent.Telemetry;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;
using OpenTelemetry.Trace;
using Prometheus;

namespace Hypervisors.Agent.Hosting;

/// <summary>Builds the agent: configuration, drivers, journal, background services, security and the HTTP pipeline.</summary>
public static class AgentApplication
{
    /// <summary>
    /// Builds the agent from <paramref name="args"/> (plus appsettings.json and the environment); refuses unsafe
    /// listen settings. <paramref name="configure"/> may add configuration or services (tests do).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        if (builder.Configuration[$"{AgentOptions.SectionName}:ConfigFile"] is { Length: > 0 } configFile)
        {
            // A deployment's own file (see deploy/systemd); the environment and the command line still win.
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
            builder.Configuration.AddEnvironmentVariables();
            builder.Configuration.AddCommandLine(args);
        }

        var agentSection = builder.Configuration.GetSection(AgentOptions.SectionName);
        var agentOptions = agentSection.Get<AgentOptions>() ?? new AgentOptions();
        var token = BearerToken.FromFile(agentOptions.TokenFile);
        var endpoints = ListenPolicy.Validate(agentOptions, token.IsConfigured);
        builder.WebHost.ConfigureKestrel(kestrel => ListenPolicy.Apply(kestrel, endpoints, agentOptions));
        var dataDirectory = Path.GetFullPath(agentOptions.DataDirectory ?? Path.Combine(builder.Environment.ContentRootPath, "data"));
        var drivers = DriverSetup.Read(builder.Configuration);

        var services = builder.Services;
        services.Configure<AgentOptions>(agentSection);
        services.AddSingleton(token);
        services.AddSingleton(new AgentStartupInfo(string.Join(", ", agentOptions.EffectiveListen), dataDirectory, drivers.Select(d => (d.Name, d.Kind)).ToList()));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<AgentMetrics>();
        services.AddSingleton(_ => new OperationJournal(Path.Combine(dataDirectory, "journal.db"), agentOptions.JournalDurability));
        services.AddSingleton<EventLog>();
        services.AddSingleton<DriverStateVersions>();
        services.AddSingleton<InstanceListCache>();
        services.AddSingleton<OperationService>();
        services.AddSingleton<PowerStateSync>();
        services.AddHostedService<AgentStartup>();
        services.AddHostedService(provider => provider.GetRequiredService<PowerStateSync>());
        services.AddHostedService<DriverEventPump>();
        DriverSetup.Register(services, drivers);
        services.AddAgentAmqp(builder.Configuration, dataDirectory);

        services.AddHealthChecks().AddCheck<DriversHealthCheck>("drivers", tags: ["ready"]);
        services.AddOpenApi();
        services.Configure<JsonOptions>(json => AgentJson.Apply(json.SerializerOptions));
        services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        services.AddSystemd();
        if (agentOptions.OtlpEndpoint is { } otlp)
        {
            // Exporting costs per request, so the SDK is on only when there is somewhere to send traces; in-process
            // listeners (tests, dotnet-trace) see the same activities either way.
            services.AddOpenTelemetry().WithTracing(tracing => tracing
                .AddSource(AgentTelemetry.SourceName)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(exporter => exporter.Endpoint = otlp));
        }

        var app = builder.Build();
        var registry = app.Services.GetRequiredService<AgentMetrics>().Registry;
        app.UseMiddleware<ProblemMiddleware>();
        app.UseMiddleware<BearerTokenMiddleware>();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.UseHttpMetrics(metrics =>
        {
            metrics.InProgress.Registry = registry;
            metrics.RequestCount.Registry = registry;
            metrics.RequestDuration.Registry = registry;
        });
        app.MapMetrics("/metrics", registry);
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapInstanceApi();
        app.MapEventApi();
        return app;
    }
}

/// <summary>What the start-up log line reports.</summary>
internal sealed record AgentStartupInfo(string Urls, string DataDirectory, IReadOnlyList<(string Name, string Kind)> Drivers);
