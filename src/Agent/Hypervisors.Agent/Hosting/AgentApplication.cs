using Hypervisors.Agent.Amqp;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Events;
using Hypervisors.Agent.Images;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Operations;
using Hypervisors.Agent.Security;
using Hypervisors.Agent.Telemetry;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

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
        // A failed start is reported once, as one line, by Program (Host's own "Hosting failed to start" would repeat it
        // with a stack trace); a faulted background service is still logged (Critical).
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        configure?.Invoke(builder);
        if (builder.Configuration[$"{AgentOptions.SectionName}:ConfigFile"] is { Length: > 0 } configFile)
        {
            // A deployment's own file (see deploy/systemd); the environment and the command line still win.
            try
            {
                builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false, reloadOnChange: false);
            }
            catch (Exception exception) when (exception is IOException or InvalidDataException or FormatException)
            {
                throw AgentStartupException.Setting("Agent:ConfigFile", $"cannot read '{configFile}': {exception.Message}", exception);
            }

            builder.Configuration.AddEnvironmentVariables();
            builder.Configuration.AddCommandLine(args);
        }

        if (builder.Configuration.GetSection("Kestrel").Exists())
        {
            // Kestrel would open the endpoints of this section itself, past the listen policy.
            throw AgentStartupException.Setting("Kestrel", "the agent does not take Kestrel settings; set its listeners with Agent:Listen (and Agent:Tls).");
        }

        var agentSection = builder.Configuration.GetSection(AgentOptions.SectionName);
        AgentOptions agentOptions;
        try
        {
            agentOptions = agentSection.Get<AgentOptions>() ?? new AgentOptions();
        }
        catch (InvalidOperationException exception)
        {
            throw new AgentStartupException(exception.Message.TrimEnd('.') + ".", exception);
        }

        agentOptions.Validate();
        var token = BearerToken.FromFile(agentOptions.TokenFile);
        var endpoints = ListenPolicy.Validate(agentOptions, token.IsConfigured);
        builder.WebHost.ConfigureKestrel(kestrel => ListenPolicy.Apply(kestrel, endpoints, agentOptions));
        // Neither ASPNETCORE_URLS nor --urls adds a listener: only Agent:Listen does.
        builder.WebHost.UseSetting(WebHostDefaults.PreferHostingUrlsKey, "false");
        var dataDirectory = agentOptions.ResolveDataDirectory();
        var drivers = DriverSetup.Read(builder.Configuration);
        var kinds = DriverKindCatalog.Discover(AppContext.BaseDirectory);
        var dataLock = DataDirectoryLock.Acquire(dataDirectory);
        OperationJournal journal;
        try
        {
            journal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), agentOptions.JournalDurability);
        }
        catch
        {
            dataLock.Dispose();
            throw;
        }

        var services = builder.Services;
        services.Configure<AgentOptions>(agentSection);
        services.AddSingleton(token);
        services.AddSingleton(new AgentStartupInfo(string.Join(", ", agentOptions.EffectiveListen), dataDirectory, drivers.Select(d => (d.Name, d.Kind)).ToList(),
            kinds.Kinds.Select(k => k.Kind).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToList(), kinds.Skipped));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<AgentMetrics>();
        // Built above (a busy data directory or a bad journal stops the start there); factories make the container dispose them.
        services.AddSingleton(_ => dataLock);
        services.AddSingleton(_ => journal);
        services.AddSingleton<EventLog>();
        services.AddSingleton<DriverStateVersions>();
        services.AddSingleton<InstanceListCache>();
        services.AddSingleton<OperationService>();
        services.AddSingleton<PowerStateSync>();
        services.AddHostedService<AgentStartup>();
        services.AddHostedService<OperationDrain>();
        services.AddSingleton<OperationPruner>();
        services.AddHostedService(provider => provider.GetRequiredService<OperationPruner>());
        services.Configure<HostOptions>(host => host.ShutdownTimeout = agentOptions.DrainTime + TimeSpan.FromSeconds(15));
        services.AddHostedService(provider => provider.GetRequiredService<PowerStateSync>());
        services.AddHostedService<DriverEventPump>();
        DriverSetup.Register(services, builder.Configuration, drivers, kinds.Kinds);
        services.AddAgentImages(builder.Configuration, drivers);
        services.AddAgentAmqp(builder.Configuration, dataDirectory);

        services.AddHealthChecks()
            .AddCheck<DriversHealthCheck>("drivers", tags: ["ready"])
            .AddCheck<JournalHealthCheck>("journal", tags: ["ready"]);
        services.AddOpenApi();
        services.Configure<JsonOptions>(json => AgentJson.ApplyStrict(json.SerializerOptions));
        services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        services.AddSystemd();
        // One telemetry stack: OpenTelemetry over the SDK's driver decorator (meter and source "Hypervisors"), the
        // agent's own meter and ASP.NET Core's request metrics; /metrics is its Prometheus exporter.
        var telemetry = services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(AgentMetrics.MeterName, OpenTelemetryHypervisorDriver.SourceName, "Microsoft.AspNetCore.Hosting")
            .AddPrometheusExporter());
        if (agentOptions.OtlpEndpoint is { } otlp)
        {
            // Exporting traces costs per request, so tracing is on only when there is somewhere to send them;
            // in-process listeners (tests, dotnet-trace) see the same activities either way.
            telemetry.WithTracing(tracing => tracing
                .AddSource(AgentTelemetry.SourceName, OpenTelemetryHypervisorDriver.SourceName)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(exporter => exporter.Endpoint = otlp));
        }

        WebApplication app;
        try
        {
            app = builder.Build();
        }
        catch
        {
            journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
            dataLock.Dispose();
            throw;
        }

        try
        {
            CreateDrivers(app.Services, drivers);
        }
        catch
        {
            // Resolves (and so disposes) the journal and the lock with the container.
            _ = app.Services.GetRequiredService<OperationJournal>();
            _ = app.Services.GetRequiredService<DataDirectoryLock>();
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        app.UseStatusCodePages(StatusProblems.WriteAsync);
        app.UseMiddleware<ProblemMiddleware>();
        app.UseMiddleware<BearerTokenMiddleware>();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapInstanceApi();
        app.MapEventApi();
        app.MapImageApi();
        return app;
    }

    /// <summary>
    /// The start-up refusal <paramref name="exception"/> stands for: an <see cref="AgentStartupException"/>, or a
    /// port Kestrel could not bind; null for anything else (a bug, which keeps its stack trace).
    /// </summary>
    internal static AgentStartupException? StartupFailure(Exception exception) => exception switch
    {
        AgentStartupException refusal => refusal,
        IOException when Causes(exception).Any(cause => cause is System.Net.Sockets.SocketException)
            => AgentStartupException.Setting("Agent:Listen", $"cannot listen: {exception.Message} ({Causes(exception).Last().Message})", exception),
        AggregateException { InnerExceptions: [var single] } => StartupFailure(single),
        _ => null,
    };

    private static IEnumerable<Exception> Causes(Exception exception)
    {
        for (var cause = exception.InnerException; cause is not null; cause = cause.InnerException)
        {
            yield return cause;
        }
    }

    /// <summary>Creates every configured driver now, so a bad driver setting stops the start naming its key.</summary>
    private static void CreateDrivers(IServiceProvider services, IReadOnlyList<DriverDefinition> drivers)
    {
        var registry = services.GetRequiredService<IHypervisorDriverRegistry>();
        foreach (var definition in drivers)
        {
            try
            {
                _ = registry.Get(definition.Name).Capabilities;
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException exception)
            {
                // The kind's checks name each key ("Agent:Drivers:vc1:Url: is required.").
                throw new AgentStartupException(string.Join(" ", exception.Failures), exception);
            }
            catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or FormatException)
            {
                throw exception as AgentStartupException
                    ?? AgentStartupException.Setting($"Agent:Drivers:{definition.Name}", exception.Message, exception);
            }
        }
    }
}

/// <summary>What the start-up log line reports.</summary>
internal sealed record AgentStartupInfo(string Urls, string DataDirectory, IReadOnlyList<(string Name, string Kind)> Drivers,
    IReadOnlyList<string> DriverKinds, IReadOnlyList<string> SkippedDriverPackages);
